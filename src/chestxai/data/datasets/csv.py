"""The plain CSV layout, and the table helpers every reader shares.

A plain dataset is a folder with ``labels.csv`` (``image`` relative to the folder, one column per finding, any
metadata columns) and optionally ``boxes.csv`` (``image, finding, x, y, w, h`` in the pixel space of the files).
It is the format chestxai writes and the one ``../shared/data`` and ``../shared/kermany`` use, so unknown labels
must stay unknown: an empty cell is NaN, never 0 (Kermany does not label effusion at all).

The helpers (reading a CSV with user-facing errors, the uncertainty policy, absolute paths, dropping rows whose
file is missing) live here because the CheXpert and NIH readers need exactly the same behaviour.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from chestxai.data.datasets.base import BOX_COLUMNS, CXRDataset
from chestxai.data.findings import canonical_finding
from chestxai.errors import ConfigError, DataFormatError

# Columns that describe an image rather than label it, even when their values happen to be 0/1 in a small file.
METADATA_COLUMNS = frozenset(
    {
        "image", "path", "patient_id", "view", "source", "split", "fold", "other_findings", "width", "height",
        "scale", "sha256", "label_source", "source_path", "patient_age", "patient_sex", "age", "sex", "follow_up",
        "study", "study_id", "box_source",
    }
)
METADATA_PREFIXES = ("orig_", "original_", "nih_", "acquisition_")
LABEL_VALUES = (0.0, 1.0, -1.0)
UNCERTAINTY_POLICIES: dict[str, float] = {"ones": 1.0, "zeros": 0.0, "ignore": np.nan}


def read_table(path: str | Path, **kwargs: object) -> pd.DataFrame:
    """Read a CSV turning every parse failure into a one-line :class:`DataFormatError`; headers are stripped."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: CSV file not found")
    try:
        table = pd.read_csv(path, **kwargs)  # type: ignore[arg-type]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataFormatError(f"{path}: not a readable CSV ({str(exc).splitlines()[0] if str(exc) else exc})") from exc
    table.columns = [str(c).strip() for c in table.columns]
    return table


def csv_header(path: str | Path) -> list[str]:
    """Column names only: format detection must not parse a 200k-row CSV."""
    return list(read_table(path, nrows=0).columns)


def require_columns(table: pd.DataFrame, columns: list[str], csv_path: str | Path) -> None:
    """Name the CSV and the missing column(s): the commonest user error is pointing at the wrong file."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        present = ", ".join(map(str, table.columns))
        raise DataFormatError(f"{csv_path}: missing required column(s) {', '.join(missing)} (it has: {present})")


def check_uncertainty(policy: str) -> float:
    """Validate an uncertainty policy name and return the value that replaces ``-1``."""
    if policy not in UNCERTAINTY_POLICIES:
        raise ConfigError(f"unknown uncertainty policy {policy!r}; use one of {', '.join(UNCERTAINTY_POLICIES)}")
    return UNCERTAINTY_POLICIES[policy]


def apply_uncertainty(values: np.ndarray, policy: str) -> np.ndarray:
    """Replace ``-1`` (uncertain mention) by the policy's value: ``ones`` 1, ``zeros`` 0, ``ignore`` NaN (masked)."""
    replacement = check_uncertainty(policy)
    out = np.array(values, dtype=np.float32, copy=True)
    out[out == -1] = replacement
    return out


def absolute_path(root: str | Path, relative: str) -> str:
    """Absolute, normalised path (``..`` folded, symlinks kept) so the same file always has the same key."""
    return os.path.abspath(os.path.join(root, relative))


def drop_missing(
    meta: pd.DataFrame, labels: np.ndarray, source: str | Path
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[str, str]]]:
    """Drop rows whose ``path`` is not a file; report each in ``skipped`` rather than failing a 100k-image load."""
    exists = np.array([os.path.isfile(p) for p in meta["path"]], dtype=bool)
    if len(meta) and not exists.any():
        raise DataFormatError(f"{source}: none of its {len(meta)} images was found (e.g. {meta['path'].iloc[0]})")
    skipped = [(str(p), "image file not found") for p in meta.loc[~exists, "path"]]
    return meta[exists].reset_index(drop=True), labels[exists], skipped


def is_label_column(name: str, values: pd.Series) -> bool:
    """A finding column holds only 0, 1, -1 or blanks and is not a known metadata name."""
    key = name.strip().lower()
    if key in METADATA_COLUMNS or key.startswith(METADATA_PREFIXES):
        return False
    numeric = pd.to_numeric(values, errors="coerce")
    if (numeric.isna() & values.notna()).any():
        return False
    return bool(numeric.dropna().isin(LABEL_VALUES).all())


def canonical_columns(columns: list[str], csv_path: str | Path) -> list[str]:
    """Canonical finding names of ``columns``; two spellings of one finding in one CSV is ambiguous."""
    names = [canonical_finding(c) for c in columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataFormatError(f"{csv_path}: several columns mean the same finding: {', '.join(repeated)}")
    return names


def _dataset_paths(images: pd.Series, root: Path, keep: set[str]) -> list[str]:
    """Each box's image as a dataset path: its path relative to ``root``, else its file name where exactly one
    dataset image has that name (box lists handed over separately, like NIH's, name images by file name alone)."""
    by_name: dict[str, list[str]] = {}
    for path in keep:
        by_name.setdefault(os.path.basename(path), []).append(path)
    out = []
    for image in images.astype(str):
        path = absolute_path(root, image)
        same_name = by_name.get(os.path.basename(path), [])
        out.append(same_name[0] if path not in keep and len(same_name) == 1 else path)
    return out


def read_boxes(csv_path: Path, root: Path, keep: set[str]) -> pd.DataFrame:
    """``boxes.csv`` of the plain layout; boxes of images not in the dataset are dropped."""
    if not csv_path.is_file():
        return pd.DataFrame(columns=BOX_COLUMNS)
    table = read_table(csv_path)
    require_columns(table, ["image", "finding", "x", "y", "w", "h"], csv_path)
    boxes = table.drop(columns=["image"])
    boxes.insert(0, "path", _dataset_paths(table["image"], root, keep))
    boxes["finding"] = [canonical_finding(f) for f in table["finding"]]
    for col in ("x", "y", "w", "h"):
        boxes[col] = pd.to_numeric(boxes[col], errors="coerce").astype(float)
    bad = boxes[["x", "y", "w", "h"]].isna().any(axis=1)
    if bad.any():
        raise DataFormatError(f"{csv_path}: row {int(np.flatnonzero(bad)[0]) + 2} has a non-numeric box coordinate")
    return boxes[boxes["path"].isin(keep)].reset_index(drop=True)


def load_csv(path: str | Path, uncertainty: str = "ones") -> CXRDataset:
    """Read the plain layout from a folder (or its ``labels.csv``); ``-1`` follows ``uncertainty``."""
    path = Path(path)
    labels_csv = path if path.is_file() else path / "labels.csv"
    root = labels_csv.parent
    table = read_table(labels_csv)
    require_columns(table, ["image"], labels_csv)
    columns = [c for c in table.columns if is_label_column(c, table[c])]
    findings = canonical_columns(columns, labels_csv)
    raw = table[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32)
    labels = apply_uncertainty(raw.reshape(len(table), len(columns)), uncertainty)
    meta = table.drop(columns=columns)
    meta.insert(0, "path", [absolute_path(root, p) for p in table["image"].fillna("").astype(str)])
    if "source" not in meta.columns:
        meta["source"] = f"csv:{root.name}"
    meta, labels, skipped = drop_missing(meta, labels, labels_csv)
    boxes = read_boxes(root / "boxes.csv", root, set(meta["path"]))
    return CXRDataset(findings, labels, meta, boxes, root, skipped)
