"""The explanation report end to end on a tiny trained model and synthetic boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chestxai.data.datasets import load_dataset
from chestxai.evaluate.explanation_report import evaluate_explanations
from chestxai.evaluate.explanations import METRICS
from chestxai.models import load_checkpoint
from chestxai.train.fit import TrainConfig, fit


@pytest.fixture(scope="module")
def trained(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("xrun")
    fit(load_dataset(synthetic_dir), out, TrainConfig(["effusion"], image_size=64, epochs=3, batch_size=16,
        val_fraction=0.3, augment=(), ema_decay=0.9), progress=False)
    return out / "model.pt"


def test_report_files_columns_and_counts(trained: Path, synthetic_dir: Path, tmp_path: Path) -> None:
    data = load_dataset(synthetic_dir)
    data = data.subset(np.flatnonzero(data.labels[:, data.findings.index("effusion")] == 1)[:6])
    summary = evaluate_explanations(load_checkpoint(trained), data, "effusion", ["gradcam", "silhouette"], tmp_path,
                                    steps=16, samples=2, progress=False)
    csv = pd.read_csv(tmp_path / "summary.csv")
    assert list(csv["method"]) == ["gradcam", "silhouette"]
    for metric in METRICS:
        assert {metric, f"{metric}_lo", f"{metric}_hi"} <= set(csv.columns)
    assert (csv["n"] == 6).all()
    # Synthetic boxes cover the lower-left blob: 16 x 16 of 48 x 48 px -> 1/9 of the image at any scale.
    assert summary["chance_level"].iloc[0] == pytest.approx(1 / 9, abs=0.02)
    # The model-free silhouette baseline picks the bright lower-left quadrant: well above chance, perfectly robust,
    # and the randomisation check exposes it as independent of the model (correlation 1).
    sil = summary.set_index("method").loc["silhouette"]
    assert sil["relevance_mass_accuracy"] > 3 * sil["chance_level"]
    assert sil["pixel_auc"] > 0.8
    assert sil["local_lipschitz"] == pytest.approx(0.0)
    assert sil["randomisation_spearman"] == pytest.approx(1.0)
    assert sil["pixel_flipping_auc"] < sil["pixel_flipping_random_auc"]
    for name in ("summary.md", "per_image.csv", "pixel_flipping.png", "best_worst_gradcam.png"):
        assert (tmp_path / name).stat().st_size > 0
    md = (tmp_path / "summary.md").read_text()
    assert "source study (Grad-CAM)" in md and "0.18" in md and "box share" in md


def test_no_box_and_no_positive_is_a_clear_error(trained: Path, synthetic_dir: Path, tmp_path: Path) -> None:
    from chestxai.errors import DataFormatError

    data = load_dataset(synthetic_dir)
    negatives = data.subset(np.flatnonzero(data.labels[:, data.findings.index("effusion")] == 0)[:3])
    with pytest.raises(DataFormatError, match="no image with a effusion box"):
        evaluate_explanations(load_checkpoint(trained), negatives, "effusion", ["gradcam"], tmp_path, progress=False)


def test_undefined_lipschitz_and_constant_randomised_maps_are_counted_not_dropped(
    trained: Path, synthetic_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from chestxai.evaluate import explanation_report as report
    from chestxai.evaluate import explanations as xm

    def zero_head_copy(model, seed=0):  # no gradient reaches the features: every Grad-CAM map is all zero
        copy = load_checkpoint(trained)
        torch.nn.init.zeros_(copy.head.weight)
        return copy

    def quantus_refuses(*args, **kwargs):
        raise AssertionError("The elements in the attribution vector are all equal to zero, which may cause ...")

    monkeypatch.setattr(report, "randomised_copy", zero_head_copy)
    monkeypatch.setattr(xm, "local_lipschitz", quantus_refuses)
    data = load_dataset(synthetic_dir)
    data = data.subset(np.flatnonzero(data.labels[:, data.findings.index("effusion")] == 1)[:3])
    table = evaluate_explanations(load_checkpoint(trained), data, "effusion", ["silhouette", "gradcam"], tmp_path,
                                  steps=16, samples=2, progress=False).set_index("method")
    summary, gradcam = table.loc["silhouette"], table.loc["gradcam"]
    assert summary["n"] == 3 and summary["lipschitz_undefined"] == 3 and summary["randomised_constant"] == 0
    assert summary["relevance_mass_accuracy"] > 0  # the image's other scores survive
    scored = gradcam["n"] - gradcam["degenerate_maps"]
    assert scored > 0 and gradcam["randomised_constant"] == scored and np.isnan(gradcam["randomisation_spearman"])
    md = (tmp_path / "summary.md").read_text()
    assert "Lipschitz undefined" in md and "failed" not in md
