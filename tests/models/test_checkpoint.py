"""Checkpoints round-trip weights and metadata and never unpickle arbitrary objects."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import chestxai
from chestxai.data.preprocess import Preprocess
from chestxai.errors import CheckpointError, ConfigError, UnknownFindingError
from chestxai.models import Classifier, load_checkpoint, save_checkpoint


@pytest.fixture()
def model() -> Classifier:
    torch.manual_seed(0)
    return Classifier(["effusion", "pneumonia"], "densenet121", Preprocess(64, 0.5, 0.25)).eval()


def test_round_trip_keeps_weights_findings_and_preprocessing(model: Classifier, tmp_path: Path) -> None:
    save_checkpoint(model, tmp_path / "m.pt", metrics={"val_auc": {"effusion": 0.8}})
    loaded = load_checkpoint(tmp_path / "m.pt")
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x))
    assert loaded.findings == ["effusion", "pneumonia"]
    assert loaded.preprocess == Preprocess(64, 0.5, 0.25)
    assert loaded.checkpoint_meta["metrics"]["val_auc"]["effusion"] == 0.8
    assert chestxai.load_model(tmp_path / "m.pt").arch == "densenet121"


def test_logit_shift_round_trips_and_moves_only_reported_probabilities(model: Classifier, tmp_path: Path) -> None:
    save_checkpoint(model, tmp_path / "plain.pt")
    assert "logit_shift" not in load_checkpoint(tmp_path / "plain.pt").checkpoint_meta  # older checkpoints: no shift
    model.set_logit_shift({"effusion": -2.0})
    save_checkpoint(model, tmp_path / "m.pt", half=True)
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert loaded.checkpoint_meta["logit_shift"] == {"effusion": -2.0, "pneumonia": 0.0}
    x = torch.randn(3, 1, 64, 64)
    with torch.no_grad():
        logits = loaded(x)
    expected = torch.sigmoid(logits + torch.tensor([-2.0, 0.0])).numpy()
    assert abs(loaded.predict_tensor(x) - expected).max() < 1e-6
    assert abs(loaded.predict_tensor(x, shifted=False) - torch.sigmoid(logits).numpy()).max() < 1e-6
    with pytest.raises(ConfigError, match="3 values for 2 findings"):
        model.set_logit_shift([0.0, 0.0, 0.0])


def test_half_precision_checkpoint_is_smaller_and_close(model: Classifier, tmp_path: Path) -> None:
    save_checkpoint(model, tmp_path / "full.pt")
    save_checkpoint(model, tmp_path / "half.pt", half=True)
    assert (tmp_path / "half.pt").stat().st_size < 0.6 * (tmp_path / "full.pt").stat().st_size
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(load_checkpoint(tmp_path / "half.pt")(x), model(x), atol=1e-2)


def test_a_pickled_object_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": "chestxai-checkpoint", "evil": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all"])
def test_corrupt_or_foreign_files_are_clear_errors(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "bad.pt").write_bytes(content)
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_checkpoint(tmp_path / "bad.pt")


def test_foreign_torch_file_is_refused(tmp_path: Path) -> None:
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a chestxai checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_missing_checkpoint_and_unknown_finding(model: Classifier, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(UnknownFindingError, match="cardiomegaly"):
        model.finding_index("cardiomegaly")
    assert model.finding_index("Pleural Effusion") == 0
