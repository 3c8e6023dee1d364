"""A tiny untrained classifier saved as a checkpoint: retrieval tests need features, not accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from chestxai.data.preprocess import Preprocess
from chestxai.models.checkpoint import load_checkpoint, save_checkpoint
from chestxai.models.classifier import Classifier


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = Classifier(["effusion", "pneumonia"], "densenet121", Preprocess(32))
    path = tmp_path_factory.mktemp("model") / "model.pt"
    save_checkpoint(model, path)
    return path


@pytest.fixture
def tiny_model(tiny_checkpoint: Path) -> Classifier:
    return load_checkpoint(tiny_checkpoint)


def _brightness_saliency(model: Classifier, x: torch.Tensor) -> list[np.ndarray]:
    """A cheap stand-in saliency function: the input rescaled to [0, 1] (tests only the IG-CBIR plumbing)."""
    out = []
    for im in x[:, 0].numpy():
        lo, hi = float(im.min()), float(im.max())
        out.append((im - lo) / (hi - lo) if hi > lo else np.zeros_like(im))
    return out


@pytest.fixture
def brightness_saliency():
    return _brightness_saliency
