"""Folder layouts: class folders (the Kaggle pneumonia set) and plain folders of DICOM files.

Kaggle's "Chest X-Ray Images (Pneumonia)" (Kermany et al. 2018) ships as ``chest_xray/{train,val,test}/{NORMAL,
PNEUMONIA}/*.jpeg`` -- the zip also holds a nested ``chest_xray/chest_xray`` copy and ``__MACOSX`` debris, which are
ignored once split folders are found. The class of an image is its folder; each class becomes a one-hot finding
(``pneumonia``, ``normal``). The file names carry the patient (``person123_bacteria_456``, ``IM-0115-0001``,
``NORMAL2-IM-0372-0001``), which is what a patient-level split needs, and the pneumonia type.

A folder of ``.dcm`` files without labels is a dataset with no findings: what ``predict`` runs on.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from chestxai.data.datasets.base import CXRDataset
from chestxai.data.findings import canonical_finding
from chestxai.data.io import DICOM_SUFFIXES
from chestxai.errors import DataFormatError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".dcm"})
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
KAGGLE_CLASSES = frozenset({"normal", "pneumonia"})
_PERSON = re.compile(r"(person\d+)_", re.IGNORECASE)
_IM = re.compile(r"((?:NORMAL2-)?IM-\d+)-\d+", re.IGNORECASE)


def kaggle_patient_id(filename: str) -> str:
    """``person123_bacteria_456.jpeg`` -> ``person123``; ``[NORMAL2-]IM-0115-0001.jpeg`` -> ``[NORMAL2-]IM-0115``."""
    stem = Path(filename).stem
    for pattern in (_PERSON, _IM):
        match = pattern.search(stem)
        if match:
            return match.group(1)
    return ""


def pneumonia_type(filename: str) -> str:
    """``bacteria`` or ``virus`` when the Kaggle name says so (only pneumonia images do)."""
    name = filename.lower()
    return "bacteria" if "bacteria" in name else "virus" if "virus" in name else ""


def _is_image(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _subfolders(folder: Path) -> list[Path]:
    """Visible subfolders in name order (``__MACOSX`` and dot-folders are archive debris)."""
    return sorted(
        p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))
    ) if folder.is_dir() else []


def _has_images(folder: Path) -> bool:
    """Stops at the first image: a class folder of 4,000 files needs one directory entry read, not 4,000."""
    with os.scandir(folder) as entries:
        return any(e.is_file() and _is_image(e.name) for e in entries)


def class_layout(root: str | Path) -> list[tuple[str, Path]]:
    """``(split, class folder)`` pairs under ``root``: the Kaggle root, ``chest_xray``, one split or class folders."""
    root = Path(root)
    if (root / "chest_xray").is_dir() and not any(p.name.lower() in SPLIT_NAMES for p in _subfolders(root)):
        root = root / "chest_xray"
    splits = [p for p in _subfolders(root) if p.name.lower() in SPLIT_NAMES]
    if splits:
        return [(SPLIT_NAMES[s.name.lower()], c) for s in splits for c in _subfolders(s) if _has_images(c)]
    split = SPLIT_NAMES.get(root.name.lower(), "")
    return [(split, c) for c in _subfolders(root) if _has_images(c)]


def is_kaggle_layout(root: str | Path) -> bool:
    """Class folders of which at least one is NORMAL or PNEUMONIA (other class folders are too generic to guess)."""
    return any(canonical_finding(c.name) in KAGGLE_CLASSES for _, c in class_layout(root))


def _class_order(names: set[str]) -> list[str]:
    """Findings in name order with ``normal`` last, so Kaggle gives ``[pneumonia, normal]``."""
    return sorted(names, key=lambda n: (n == "normal", n))


def load_folders(root: str | Path) -> CXRDataset:
    """Read class folders; each class is a one-hot finding, the split folder is kept in ``meta['split']``."""
    root = Path(root)
    layout = class_layout(root)
    if not layout:
        raise DataFormatError(f"{root}: no class folders with images (e.g. NORMAL/, PNEUMONIA/, under train/val/test)")
    findings = _class_order({canonical_finding(c.name) for _, c in layout})
    records: list[dict[str, str]] = []
    classes: list[int] = []
    for split, folder in layout:
        column = findings.index(canonical_finding(folder.name))
        for name in sorted(n for n in os.listdir(folder) if _is_image(n)):
            records.append({"path": os.path.abspath(folder / name), "image": name, "split": split,
                            "patient_id": kaggle_patient_id(name), "view": "", "source": f"folders:{root.name}",
                            "other_findings": pneumonia_type(name)})
            classes.append(column)
    labels = np.eye(len(findings), dtype=np.float32)[np.asarray(classes, dtype=int)]
    return CXRDataset(findings, labels, pd.DataFrame(records), root=root)


def dicom_files(root: str | Path) -> list[Path]:
    """Every ``.dcm``/``.dicom`` file below ``root`` in path order (DICOM studies nest folders per series)."""
    return sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in DICOM_SUFFIXES and p.is_file())


def _dicom_header(path: Path) -> tuple[str, str]:
    """PatientID and ViewPosition from the header only; an unreadable header is left to the image cache to report."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True, specific_tags=["PatientID", "ViewPosition"])
    except Exception:  # noqa: BLE001 - pixel/header problems surface, with the file name, when the image is read
        return "", ""
    return str(ds.get("PatientID", "") or ""), str(ds.get("ViewPosition", "") or "")


def load_dicom_folder(root: str | Path) -> CXRDataset:
    """A folder of unlabelled DICOM files -> a dataset with no findings (labels ``[N, 0]``), for prediction."""
    files = dicom_files(root)
    if not files:
        raise DataFormatError(f"{root}: no .dcm files found")
    headers = [_dicom_header(p) for p in files]
    meta = pd.DataFrame(
        {
            "path": [os.path.abspath(p) for p in files],
            "image": [str(p.relative_to(root)) for p in files],
            "patient_id": [pid for pid, _ in headers],
            "view": [view for _, view in headers],
            "source": f"dicom:{Path(root).name}",
        }
    )
    return CXRDataset([], np.zeros((len(files), 0), dtype=np.float32), meta, root=Path(root))
