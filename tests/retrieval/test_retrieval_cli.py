"""The retrieval commands' shapes: index -> catalogue-info -> search --json, evaluate-retrieval, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chestxai.cli import main


@pytest.fixture(scope="module")
def small_dir(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 40 synthetic images (a labels.csv pointing into the shared synthetic folder)."""
    root = tmp_path_factory.mktemp("small")
    labels = pd.read_csv(synthetic_dir / "labels.csv").head(40)
    labels["image"] = [str(synthetic_dir / p) for p in labels["image"]]
    labels.to_csv(root / "labels.csv", index=False)
    return root


@pytest.fixture(scope="module")
def catalogue(small_dir: Path, tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cat = tmp_path_factory.mktemp("cat") / "catalogue"
    assert main(["index", "--model", str(tiny_checkpoint), "--catalogue", str(cat), "--data", str(small_dir)]) == 0
    return cat


def test_index_twice_adds_nothing(catalogue: Path, small_dir: Path, tiny_checkpoint: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["index", "--model", str(tiny_checkpoint), "--catalogue", str(catalogue),
                 "--data", str(small_dir)]) == 0
    assert json.loads(capsys.readouterr().out) == {"added": 0, "skipped": 40, "unreadable": 0, "cases": 40}


def test_catalogue_info_json(catalogue: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["catalogue-info", "--catalogue", str(catalogue), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"cases": 40, "embedders": ["cnn"]}


@pytest.mark.parametrize("embedder", ["cnn", "ssim"])
def test_search_json_shape(catalogue: Path, small_dir: Path, tiny_checkpoint: Path, embedder: str, capsys) -> None:
    query = pd.read_csv(small_dir / "labels.csv")["image"][5]
    capsys.readouterr()
    assert main(["search", "--model", str(tiny_checkpoint), "--catalogue", str(catalogue), "--embedder", embedder,
                 "--k", "3", "--json", query]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 3 and all(list(h) == ["case", "image", "score", "labels"] for h in hits)
    assert hits[0]["image"] == query and hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
    assert set(hits[0]["labels"]) == {"effusion", "pneumonia", "normal"}
    assert all(v in (0, 1) for v in hits[0]["labels"].values())
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_search_writes_overlays(catalogue: Path, small_dir: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    pytest.importorskip("chestxai.explain")
    query = pd.read_csv(small_dir / "labels.csv")["image"][0]
    assert main(["search", "--model", str(tiny_checkpoint), "--catalogue", str(catalogue), "--k", "2",
                 "--overlays", str(tmp_path), "--finding", "effusion", query]) == 0
    assert len(list(tmp_path.glob("*.png"))) == 3


def test_evaluate_retrieval_writes_summary(small_dir: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    assert main(["evaluate-retrieval", "--model", str(tiny_checkpoint), "--data", str(small_dir),
                 "--finding", "effusion", "--test-fraction", "0.3", "--out", str(tmp_path)]) == 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert set(summary.method) == {"ssim", "cnn"}
    assert {"precision", "ndcg", "map"} <= set(summary.metric)
    assert "Top-4/Cat-10" not in summary.setting.tolist() and "top4_cat10" in summary.setting.tolist()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["search", "--catalogue", "{tmp}/none", "--embedder", "ssim", "{img}"], "not a catalogue"),
        (["catalogue-info", "--catalogue", "{tmp}/none"], "not a catalogue"),
        (["search", "--catalogue", "{cat}", "--embedder", "ssim", "{tmp}/missing.png"], "missing.png"),
        (["search", "--model", "{ckpt}", "--catalogue", "{cat}", "--embedder", "igcbir", "{img}"], "--igcbir-model"),
        (["search", "--catalogue", "{cat}", "--embedder", "ssim", "--k", "0", "{img}"], "--k"),
    ],
)
def test_user_errors_are_one_line(argv, message, catalogue: Path, small_dir: Path, tiny_checkpoint: Path,
                                  tmp_path: Path, capsys) -> None:
    img = pd.read_csv(small_dir / "labels.csv")["image"][0]
    argv = [a.format(tmp=tmp_path, cat=catalogue, img=img, ckpt=tiny_checkpoint) for a in argv]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("chestxai: error:") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "none").exists()


def test_unknown_method_in_evaluate_retrieval(small_dir: Path, tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    assert main(["evaluate-retrieval", "--model", str(tiny_checkpoint), "--data", str(small_dir), "--finding",
                 "effusion", "--methods", "ssim,sift", "--out", str(tmp_path)]) == 2
    assert "sift" in capsys.readouterr().err
    assert np.all([not (tmp_path / "summary.csv").exists()])


def test_catalogue_info_text_names_index_and_recall(catalogue: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["catalogue-info", "--catalogue", str(catalogue)]) == 0
    out = capsys.readouterr().out
    assert "40 cases; embedders: cnn" in out and "flat index" in out and "recall 1 by construction" in out
