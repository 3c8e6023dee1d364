"""Shared fixtures: tiny synthetic radiographs written in the plain-CSV layout (like ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from chestxai.data.preprocess import Preprocess
from chestxai.models.checkpoint import load_checkpoint, save_checkpoint
from chestxai.models.classifier import Classifier

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Test tensors are tiny: one intra-op thread is faster than two, and far faster on a shared, busy box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own decoded-image cache, never the user's ~/.cache."""
    monkeypatch.setenv("CHESTXAI_CACHE", str(tmp_path_factory.mktemp("cache")))


def make_synthetic_csv_dataset(root: Path, n: int = 120, size: int = 48, seed: int = 0) -> Path:
    """An easy two-finding set: ``effusion`` = bright blob in the lower-left quadrant, ``pneumonia`` = upper-right.

    Images are noisy grey "chests"; labels are independent, patients own 1-2 images each, so a model can only
    score well by looking at the right region: the learning test and the saliency tests rely on that.
    """
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows, boxes = [], []
    q = size // 2
    for i in range(n):
        img = rng.normal(0.35, 0.08, (size, size))
        eff, pne = int(rng.random() < 0.4), int(rng.random() < 0.4)
        if eff:
            img[q + 4 : size - 4, 4 : q - 4] += 0.45
            boxes.append((f"images/img_{i:04d}.png", "effusion", 4, q + 4, q - 8, q - 8))
        if pne:
            img[4 : q - 4, q + 4 : size - 4] += 0.45
        name = f"images/img_{i:04d}.png"
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(root / name)
        rows.append({"image": name, "patient_id": f"p{i // 2:04d}", "view": "PA", "source": "synthetic",
                     "effusion": eff, "pneumonia": pne, "normal": int(not (eff or pne))})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    pd.DataFrame(boxes, columns=["image", "finding", "x", "y", "w", "h"]).to_csv(root / "boxes.csv", index=False)
    return root


@pytest.fixture(scope="session")
def synthetic_factory():
    """The synthetic-dataset builder itself, for tests that need a second set (e.g. unseen test images)."""
    return make_synthetic_csv_dataset


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic dataset folder (labels.csv + boxes.csv + images/), built once per session."""
    return make_synthetic_csv_dataset(tmp_path_factory.mktemp("synthetic"))


def write_dicom(
    path: Path,
    pixels: np.ndarray | None,
    photometric: str = "MONOCHROME2",
    window: tuple[float, float] | None = None,
    patient_id: str = "anon",
    view: str = "PA",
    **tags: str,
) -> Path:
    """A minimal valid DICOM (explicit VR little endian, 16-bit); ``pixels=None`` writes one without pixel data.

    ``pixels`` may be ``rows x cols`` or ``frames x rows x cols``; ``window`` = (center, width) adds a VOI window;
    ``tags`` set (or override) header fields, e.g. ``Modality="CT"``, ``PatientAge="004Y"``.
    """
    from dicom_files import dicom_dataset
    from pydicom.uid import SecondaryCaptureImageStorage

    ds = dicom_dataset(SecondaryCaptureImageStorage,
                       None if pixels is None else np.asarray(pixels, dtype=np.uint16), photometric, 16)
    ds.Modality = "DX"
    ds.PatientID = patient_id
    ds.ViewPosition = view
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def dicom_writer():
    """The :func:`write_dicom` helper, for tests that build DICOM files in ``tmp_path``."""
    return write_dicom


# A tiny untrained classifier saved as a checkpoint: retrieval and IG-CBIR training tests need features, not accuracy.

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


@pytest.fixture(scope="session")
def service_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small untrained three-finding classifier (64 px) for the service and PACS tests."""
    torch.manual_seed(0)
    model = Classifier(["effusion", "pneumonia", "normal"], "densenet121", Preprocess(64))
    path = tmp_path_factory.mktemp("service_model") / "model.pt"
    save_checkpoint(model, path)
    return path
