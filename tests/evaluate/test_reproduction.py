"""The reproduction page: three evaluations on held-out patients, the source studies' figures beside ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from chestxai.data.datasets import load_dataset
from chestxai.evaluate.reproduction import held_out, reproduce
from chestxai.models import load_checkpoint
from chestxai.retrieval.embedders import SSIMScorer, build_embedder
from chestxai.train.fit import TrainConfig, fit


@pytest.fixture(scope="module")
def model(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("repro")
    fit(load_dataset(synthetic_dir), out, TrainConfig(["effusion", "pneumonia"], image_size=48, epochs=2,
        batch_size=16, val_fraction=0.3, augment=(), ema_decay=0.9), progress=False)
    return load_checkpoint(out / "model.pt")


def test_held_out_has_no_patient_of_the_rest(synthetic_dir: Path) -> None:
    data = load_dataset(synthetic_dir)
    test = held_out(data, seed=0, test_fraction=0.25)
    rest = set(data.meta["patient_id"]) - set(test.meta["patient_id"])
    assert 0 < len(test) < len(data) and rest
    assert not set(test.meta["path"]) & set(data.meta[data.meta["patient_id"].isin(rest)]["path"])
    assert len(held_out(data, seed=0, test_fraction=None)) == len(data)


def test_page_puts_published_figures_beside_ours(model, synthetic_dir: Path, tmp_path: Path) -> None:
    methods = {"ssim": SSIMScorer(), "cnn": build_embedder("cnn", model)}
    page = reproduce(model, synthetic_dir, tmp_path, retrieval_methods=methods, explanation_methods=("silhouette",),
                     test_fraction=0.5, command="chestxai report --out X", log=lambda m: None)
    text = page.read_text()
    for published in ("0.91 test", "0.906", "0.85 / 0.60 / 0.69", "0.55 / 0.40 / 0.42", "2.05", "10.32", "0.79"):
        assert published in text, published
    assert "chance for those settings" in text and "0.40 / 0.35 / 0.37" in text
    assert "## Explanations against radiologist boxes" in text and "## Similar-case retrieval" in text
    for artefact in ("classification/metrics.json", "explanations_effusion/summary.csv", "retrieval/summary.csv"):
        assert (tmp_path / artefact).is_file(), artefact
