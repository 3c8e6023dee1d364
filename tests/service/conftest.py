"""Fixtures of the service tests: a tiny random DenseNet (64 px), a 12-case catalogue, a local client.

The model needs no accuracy here: the tests check the contract (status codes, JSON shapes, PNGs, what is logged),
so a random-weight network at 64 px keeps the whole service suite to seconds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from service_helpers import LOCAL, N_CASES

from chestxai.data.datasets import load_dataset
from chestxai.models.checkpoint import load_checkpoint
from chestxai.models.classifier import Classifier
from chestxai.retrieval.api import index_dataset
from chestxai.retrieval.embedders import build_embedder
from chestxai.service import ServiceConfig, create_app


@pytest.fixture(scope="session")
def service_model(service_checkpoint: Path) -> Classifier:
    return load_checkpoint(service_checkpoint)


@pytest.fixture(scope="session")
def case_dir(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 12 synthetic images, as a dataset folder pointing into the shared synthetic set."""
    root = tmp_path_factory.mktemp("cases")
    labels = pd.read_csv(synthetic_dir / "labels.csv").head(N_CASES)
    labels["image"] = [str(synthetic_dir / p) for p in labels["image"]]
    labels.to_csv(root / "labels.csv", index=False)
    return root


@pytest.fixture(scope="session")
def catalogue(case_dir: Path, service_model: Classifier, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("catalogue") / "cat"
    index_dataset(folder, load_dataset(case_dir), build_embedder("cnn", service_model))
    return folder


@pytest.fixture(scope="module")
def client(service_model: Classifier, catalogue: Path):
    """A client on this machine of an app with the 12-case catalogue and no API token (adding disabled)."""
    app = create_app(service_model, catalogue, model_name="tiny", config=ServiceConfig(token=None))
    with TestClient(app, client=LOCAL) as c:
        yield c
