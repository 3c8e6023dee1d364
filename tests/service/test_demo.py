"""``chestxai demo FILE``: the page's chain on the command line, written as files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chestxai.cli import main
from service_helpers import grey_png


def test_demo_writes_overlays_similar_cases_and_json(service_checkpoint: Path, catalogue: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "query.png"
    image.write_bytes(grey_png())
    out = tmp_path / "demo"
    assert main(["demo", "--model", str(service_checkpoint), "--catalogue", str(catalogue), "--k", "3",
                 "--methods", "gradcam,occlusion", "--out", str(out), "--json", str(image)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record == json.loads((out / "result.json").read_text())
    assert set(record["probabilities"]) == set(record["thresholds"])
    assert list(record["explanations"]) == ["gradcam", "occlusion"]
    for e in record["explanations"].values():
        assert Path(e["overlay"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(record["similar"]) == 3
    assert [s["score"] for s in record["similar"]] == sorted((s["score"] for s in record["similar"]), reverse=True)
    assert all(Path(s["overlay"]).is_file() for s in record["similar"])


def test_demo_summary_names_each_finding_against_its_threshold(service_checkpoint: Path, catalogue: Path,
                                                               tmp_path: Path, capsys) -> None:
    image = tmp_path / "query.png"
    image.write_bytes(grey_png())
    assert main(["demo", "--model", str(service_checkpoint), "--catalogue", str(catalogue), "--k", "2",
                 "--out", str(tmp_path / "d"), str(image)]) == 0
    text = capsys.readouterr().out
    assert "threshold" in text and "similar cases (best first):" in text


def test_demo_of_a_missing_or_bad_file_is_one_line(service_checkpoint: Path, catalogue: Path, tmp_path: Path,
                                                   capsys) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    for target in (tmp_path / "missing.png", bad):
        assert main(["demo", "--model", str(service_checkpoint), "--catalogue", str(catalogue),
                     "--out", str(tmp_path / "d"), str(target)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("chestxai: error:") and "\n" not in err


def test_demo_writes_to_the_user_cache_and_replaces_the_last_run(service_checkpoint: Path, catalogue: Path,
                                                                 tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHESTXAI_CACHE", str(tmp_path / "cache"))
    image = tmp_path / "query.png"
    image.write_bytes(grey_png())
    base = ["demo", "--model", str(service_checkpoint), "--catalogue", str(catalogue), "--json"]
    assert main([*base, "--k", "3", str(image)]) == 0
    first = json.loads(capsys.readouterr().out)
    out = tmp_path / "cache" / "demo"
    assert Path(first["similar"][0]["overlay"]).parent == out and not (tmp_path / "chestxai-demo").exists()
    assert main([*base, "--k", "1", "--methods", "gradcam", str(image)]) == 0
    second = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["result.json", "overlay_gradcam.png", *(Path(s["overlay"]).name for s in second["similar"])])


def test_demo_and_page_use_one_wording_for_a_case_without_positive_labels() -> None:
    from chestxai.service.demo import summary_text

    record = {"image": "q.png", "model": "m", "probabilities": {"effusion": 0.1}, "thresholds": {"effusion": 0.5},
              "finding": "effusion", "explanations": {},
              "similar": [{"case": 1, "score": 0.9, "labels": {"effusion": 0}, "overlay": "c.png"}]}
    assert "no finding labelled" in summary_text(record)
    page = (Path(__file__).resolve().parents[2] / "src/chestxai/service/static/app.js").read_text()
    assert '"no finding labelled"' in page
