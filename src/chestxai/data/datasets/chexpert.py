"""CheXpert (Irvin et al. 2019): ``train.csv`` / ``valid.csv`` with ``Path, Sex, Age, Frontal/Lateral, AP/PA``
and 14 findings coded 1 (positive), 0 (negative), -1 (uncertain mention) or blank (not mentioned).

Blank means the report did not mention the finding, which CheXpert's authors (and the source study) read as
negative, so blank -> 0. Uncertain mentions follow a policy because the choice changes AUCs by several points:
``ones`` (U-Ones, the default of the source study), ``zeros`` (U-Zeros) or ``ignore`` (NaN, masked out of the loss).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from chestxai.data.datasets.base import CXRDataset
from chestxai.data.datasets.csv import (
    absolute_path,
    apply_uncertainty,
    canonical_columns,
    check_uncertainty,
    drop_missing,
    read_table,
    require_columns,
)
from chestxai.errors import DataFormatError

CHEXPERT_FINDINGS = [
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture",
    "Support Devices",
]
CHEXPERT_CSV_NAMES = ("train.csv", "valid.csv", "test.csv")
_PATIENT = re.compile(r"(patient\d+)", re.IGNORECASE)
_PROBE_ROWS = 50


def chexpert_csvs(path: str | Path) -> list[Path]:
    """The CSV itself, or the split CSVs found in a folder (train, valid, test: loaded together, split kept)."""
    path = Path(path)
    if path.is_file():
        return [path]
    found = [path / name for name in CHEXPERT_CSV_NAMES if (path / name).is_file()]
    if not found:
        raise DataFormatError(f"{path}: no CheXpert CSV ({', '.join(CHEXPERT_CSV_NAMES)}) in this folder")
    return found


def _strip_first(relative: str) -> str:
    """``CheXpert-v1.0-small/train/...`` -> ``train/...``: the CSV sits inside the folder its paths start with."""
    parts = relative.replace("\\", "/").split("/", 1)
    return parts[1] if len(parts) == 2 else relative


def _path_resolver(csv_path: Path, relative: list[str]) -> Callable[[str], str]:
    """Pick the base that finds most of the first rows' files, so the choice is made once, not per row."""
    here = csv_path.parent
    candidates: list[Callable[[str], str]] = [
        lambda r: absolute_path(here, r),
        lambda r: absolute_path(here.parent, r),
        lambda r: absolute_path(here, _strip_first(r)),
    ]
    probe = relative[:_PROBE_ROWS]
    hits = [sum(os.path.isfile(resolve(r)) for r in probe) for resolve in candidates]
    return candidates[int(np.argmax(hits))]


def _text(table: pd.DataFrame, column: str) -> pd.Series:
    """An optional text column as strings, blank where absent: the small CheXpert release omits some."""
    if column not in table.columns:
        return pd.Series([""] * len(table), index=table.index, dtype=object)
    return table[column].fillna("").astype(str)


def _views(table: pd.DataFrame) -> list[str]:
    """Lateral images say so in ``Frontal/Lateral``; frontal ones carry their projection in ``AP/PA``."""
    frontal_lateral, projection = _text(table, "Frontal/Lateral"), _text(table, "AP/PA")
    return [
        "LATERAL" if fl.strip().lower() == "lateral" else ap.strip().upper()
        for fl, ap in zip(frontal_lateral, projection)
    ]


def _read_split(
    csv_path: Path, uncertainty: str, columns: list[str] | None
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """One CheXpert CSV -> (meta, labels, finding columns); ``columns`` forces the columns of an earlier split."""
    table = read_table(csv_path)
    require_columns(table, ["Path"], csv_path)
    if columns is None:
        columns = [c for c in CHEXPERT_FINDINGS if c in table.columns]
        if not columns:
            raise DataFormatError(f"{csv_path}: missing the finding columns ({', '.join(CHEXPERT_FINDINGS)})")
    require_columns(table, columns, csv_path)
    raw = table[columns].apply(pd.to_numeric, errors="coerce").fillna(0.0).to_numpy(dtype=np.float32)
    labels = apply_uncertainty(raw, uncertainty)
    relative = table["Path"].fillna("").astype(str).tolist()
    resolve = _path_resolver(csv_path, relative)
    meta = pd.DataFrame(
        {
            "path": [resolve(r) for r in relative],
            "image": relative,
            "patient_id": [m.group(1).lower() if (m := _PATIENT.search(r)) else "" for r in relative],
            "view": _views(table),
            "source": "CheXpert",
            "sex": _text(table, "Sex").tolist(),
            "age": pd.to_numeric(_text(table, "Age"), errors="coerce").tolist(),
            "split": csv_path.stem,
        }
    )
    return meta, labels, columns


def load_chexpert(path: str | Path, uncertainty: str = "ones") -> CXRDataset:
    """Read a CheXpert CSV, or every split CSV of a CheXpert folder, with the given uncertainty policy."""
    check_uncertainty(uncertainty)
    csvs = chexpert_csvs(path)
    metas: list[pd.DataFrame] = []
    label_parts: list[np.ndarray] = []
    columns: list[str] | None = None
    for csv_path in csvs:
        meta, labels, columns = _read_split(csv_path, uncertainty, columns)
        metas.append(meta)
        label_parts.append(labels)
    assert columns is not None  # chexpert_csvs never returns an empty list
    meta = pd.concat(metas, ignore_index=True)
    meta, labels, skipped = drop_missing(meta, np.concatenate(label_parts), csvs[0])
    findings = canonical_columns(columns, csvs[0])
    return CXRDataset(findings, labels, meta, root=csvs[0].parent, skipped=skipped)
