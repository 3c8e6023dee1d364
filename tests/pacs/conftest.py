"""Fixtures of the PACS tests: a real Orthanc (skipped, with the reason, only when it is not installed), a tiny
random DenseNet checkpoint (64 px: the tests check the DICOM contract, not accuracy) and a 12-case catalogue."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from pacs_helpers import DICOMWEB_PLUGIN, ORTHANC, Orthanc  # noqa: E402

from chestxai.data.datasets import load_dataset  # noqa: E402
from chestxai.models.checkpoint import load_checkpoint  # noqa: E402
from chestxai.retrieval.api import index_dataset  # noqa: E402
from chestxai.retrieval.embedders import build_embedder  # noqa: E402

needs_orthanc = pytest.mark.skipif(
    ORTHANC is None or not DICOMWEB_PLUGIN.is_file(),
    reason="Orthanc is not installed (Debian packages 'orthanc' and 'orthanc-dicomweb'; .ci/run installs them)")


@pytest.fixture(scope="session")
def pacs_checkpoint(service_checkpoint: Path) -> Path:
    """The service tests' small three-finding classifier: the PACS flows run the same analysis."""
    return service_checkpoint


@pytest.fixture(scope="session")
def pacs_catalogue(synthetic_dir: Path, pacs_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pacs_cases")
    labels = pd.read_csv(synthetic_dir / "labels.csv").head(12)
    labels["image"] = [str(synthetic_dir / p) for p in labels["image"]]
    labels.to_csv(root / "labels.csv", index=False)
    folder = root / "catalogue"
    index_dataset(folder, load_dataset(root), build_embedder("cnn", load_checkpoint(pacs_checkpoint)))
    return folder


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory):
    if ORTHANC is None or not DICOMWEB_PLUGIN.is_file():
        pytest.skip("Orthanc is not installed (Debian packages 'orthanc' and 'orthanc-dicomweb'; .ci/run installs them)")
    server = Orthanc(tmp_path_factory.mktemp("orthanc")).start()
    yield server
    server.stop()
