"""Fixtures for the saliency tests: the known-answer model and a small real DenseNet."""

from __future__ import annotations

import pytest
import torch
from explain_helpers import SIZE, RegionModel

from chestxai.data.preprocess import Preprocess
from chestxai.models import Classifier


@pytest.fixture(scope="session")
def region_model() -> RegionModel:
    return RegionModel()


@pytest.fixture(scope="module")
def densenet() -> Classifier:
    torch.manual_seed(0)
    return Classifier(["effusion", "pneumonia"], "densenet121", Preprocess(SIZE)).eval()
