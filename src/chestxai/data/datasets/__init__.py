"""Dataset readers behind one entry point, :func:`load_dataset`.

A user points chestxai at a folder or a CSV; the layout is recognised from what is there (so the CLI needs no
``--format`` in the common case), read into the one :class:`CXRDataset` interface, reduced to frontal views and to
the requested findings. Loading checks only that files exist: decoding errors are reported by the image cache,
file by file, instead of making a 100k-image load fail on one bad PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from chestxai.data.datasets.base import CXRDataset
from chestxai.data.datasets.chexpert import CHEXPERT_CSV_NAMES, load_chexpert
from chestxai.data.datasets.csv import check_uncertainty, csv_header, load_csv
from chestxai.data.datasets.folders import dicom_files, is_kaggle_layout, load_dicom_folder, load_folders
from chestxai.data.datasets.nih import NIH_CSV_GLOB, load_nih
from chestxai.data.findings import parse_findings
from chestxai.errors import ConfigError, DataFormatError

__all__ = ["CXRDataset", "FORMATS", "detect_format", "load_dataset", "locate_dataset"]

_READERS: dict[str, Callable[[Path, str], CXRDataset]] = {
    "csv": load_csv,
    "chexpert": load_chexpert,
    "nih": lambda path, _uncertainty: load_nih(path),
    "folder": lambda path, _uncertainty: load_folders(path),
    "dicom": lambda path, _uncertainty: load_dicom_folder(path),
}
FORMATS = tuple(_READERS)
_LOOKED_FOR = (
    "labels.csv (plain CSV), Data_Entry_2017*.csv (NIH ChestX-ray14), train.csv/valid.csv with Path and "
    "Frontal/Lateral columns (CheXpert), NORMAL/PNEUMONIA class folders, optionally under train/val/test (Kaggle), "
    ".dcm files (DICOM, no labels)"
)


def _csv_format(csv_path: Path) -> str | None:
    """Which reader a CSV belongs to, from its name and header alone."""
    header = set(csv_header(csv_path))
    if csv_path.match(NIH_CSV_GLOB) or {"Image Index", "Finding Labels"} <= header:
        return "nih"
    if {"Path", "Frontal/Lateral"} <= header:
        return "chexpert"
    if "image" in header:
        return "csv"
    return None


def _folder_format(folder: Path, dicom: bool = True) -> str | None:
    """Which reader a folder belongs to, trying the cheap, unambiguous signs first (``dicom=False`` skips the one
    sign that walks the whole tree)."""
    if (folder / "labels.csv").is_file():
        return "csv"
    if any(folder.glob(NIH_CSV_GLOB)):
        return "nih"
    if any((folder / n).is_file() and _csv_format(folder / n) == "chexpert" for n in CHEXPERT_CSV_NAMES):
        return "chexpert"
    if is_kaggle_layout(folder):
        return "folder"
    if dicom and dicom_files(folder):
        return "dicom"
    return None


def detect_format(path: str | Path) -> str:
    """Recognise the layout at ``path``; nothing recognisable is a :class:`DataFormatError` saying what was sought."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{path}: no such file or folder")
    if path.is_file():
        found = _csv_format(path) if path.suffix.lower() == ".csv" else None
    else:
        found = _folder_format(path)
    if found is None:
        raise DataFormatError(f"{path}: no dataset layout recognised; looked for {_LOOKED_FOR}")
    return found


def locate_dataset(path: str | Path) -> tuple[Path, str]:
    """Where the dataset is and its layout: ``path`` itself or, failing that, its one sub-folder with a layout.

    Why: downloads unpack into a wrapper folder (CheXpert's ``CheXpert-v1.0-small/`` inside the folder the user
    names, Kaggle's ``chest_xray/chest_xray/``), and "no layout recognised" on the folder a user just unpacked is
    a needless stop. Two candidate sub-folders are ambiguous: the error names them.
    """
    path = Path(path)
    try:
        return path, detect_format(path)
    except DataFormatError:
        if not path.is_dir():
            raise
        found = [(child, name) for child in sorted(path.iterdir())
                 if child.is_dir() and not child.name.startswith((".", "__"))
                 and (name := _folder_format(child, dicom=False)) is not None]  # DICOM: the walk above saw none
        if len(found) == 1:
            return found[0]
        if found:
            raise DataFormatError(f"{path}: several datasets in its sub-folders "
                                  f"({', '.join(c.name for c, _ in found)}); point at one of them") from None
        raise


def load_dataset(
    path: str | Path,
    format: str | None = None,
    findings: list[str] | None = None,
    uncertainty: str = "ones",
    frontal_only: bool = True,
) -> CXRDataset:
    """Read the dataset at ``path`` (layout detected unless ``format`` forces one), frontal views, ``findings``."""
    check_uncertainty(uncertainty)
    wanted = parse_findings(findings)
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{path}: no such file or folder")
    if format:
        name = format.strip().lower()
    else:
        path, name = locate_dataset(path)
    if name not in _READERS:
        raise ConfigError(f"unknown dataset format {format!r}; use one of {', '.join(FORMATS)}")
    dataset = _READERS[name](path, uncertainty)
    if frontal_only:
        dataset = dataset.frontal_only()
    return dataset.select(wanted)
