"""NIH ChestX-ray14 (Wang et al. 2017): ``Data_Entry_2017.csv`` (or ``_v2020``) plus ``BBox_List_2017.csv``.

``Finding Labels`` is a ``|``-joined list of the 14 findings or ``No Finding``; every image gets all 15 columns
(no unknowns: NIH's NLP labelled each image for each finding). The official release spreads the PNGs over
``images_001/images ... images_012/images``; copies usually flatten them into ``images/`` or beside the CSV, so all
three places are indexed once (one directory scan, not a stat per row).

Boxes: ``BBox_List_2017.csv`` is in the space of the released 1024 x 1024 PNGs -- not of ``OriginalImage[Width,
Height]``, which is the acquisition size -- so each box is rescaled to the size of the file actually on disk (read
from its header only): a 384-px copy gets boxes scaled by 0.375.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from chestxai.data.datasets.base import BOX_COLUMNS, CXRDataset
from chestxai.data.datasets.csv import read_table, require_columns
from chestxai.data.findings import canonical_finding
from chestxai.errors import DataFormatError

NIH_FINDINGS = [
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax",
    "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia", "No Finding",
]
NIH_CSV_GLOB = "Data_Entry_2017*.csv"
BBOX_CSV = "BBox_List_2017.csv"
NIH_BOX_SPACE = 1024.0
# The box list spells one finding differently from the data entry file.
_NIH_ALIASES = {"infiltrate": "infiltration"}


def nih_name(label: str) -> str:
    """Canonical name of an NIH label, folding the box list's ``Infiltrate`` into ``infiltration``."""
    name = canonical_finding(label)
    return _NIH_ALIASES.get(name, name)


def nih_csv(path: str | Path) -> Path:
    """The data entry CSV itself, or the one in a folder (the 2017 file preferred over later variants)."""
    path = Path(path)
    if path.is_file():
        return path
    found = sorted(path.glob(NIH_CSV_GLOB), key=lambda p: (p.name != "Data_Entry_2017.csv", p.name))
    if not found:
        raise DataFormatError(f"{path}: no NIH {NIH_CSV_GLOB} in this folder")
    return found[0]


def image_index(folder: Path) -> dict[str, str]:
    """File name -> absolute path over the folder, ``images/`` and the official ``images_*/images/`` parts."""
    places = [folder, folder / "images", *sorted(folder.glob("images_*/images")), *sorted(folder.glob("images_*"))]
    index: dict[str, str] = {}
    for place in places:
        if place.is_dir():
            with os.scandir(place) as entries:
                for entry in entries:
                    if entry.is_file():
                        index.setdefault(entry.name, os.path.abspath(entry.path))
    return index


def _label_matrix(finding_labels: pd.Series, findings: list[str]) -> np.ndarray:
    """One-hot ``|``-joined labels onto ``findings``; unknown tokens are ignored (kept in ``finding_labels``)."""
    dummies = finding_labels.fillna("").astype(str).str.get_dummies(sep="|")
    dummies.columns = [nih_name(c) if c.strip() else "" for c in dummies.columns]
    dummies = dummies.T.groupby(level=0).max().T  # two spellings of one finding -> one column
    return dummies.reindex(columns=findings, fill_value=0).to_numpy(dtype=np.float32)


def _patient_ids(values: pd.Series) -> list[str]:
    """``nih_00075``: the spelling of ``../shared/data``, so one patient has one id across readers."""
    numbers = pd.to_numeric(values, errors="coerce")
    return [f"nih_{int(n):05d}" if pd.notna(n) else str(v) for n, v in zip(numbers, values.fillna(""))]


def _size_columns(table: pd.DataFrame) -> tuple[str | None, str | None]:
    """``OriginalImage[Width`` / ``Height]`` (split by the CSV parser), tolerant of other spellings."""
    width = next((c for c in table.columns if "width" in c.lower()), None)
    height = next((c for c in table.columns if "height" in c.lower()), None)
    return width, height


def _meta(table: pd.DataFrame, paths: list[str | None]) -> pd.DataFrame:
    """Meta columns of the data entry rows (path None where the file is absent)."""
    width_col, height_col = _size_columns(table)
    n = len(table)
    return pd.DataFrame(
        {
            "path": [p or "" for p in paths],
            "image": table["Image Index"].astype(str).tolist(),
            "patient_id": _patient_ids(table["Patient ID"]),
            "view": table["View Position"].fillna("").astype(str).tolist() if "View Position" in table else [""] * n,
            "source": "NIH ChestX-ray14",
            "finding_labels": table["Finding Labels"].fillna("").astype(str).tolist(),
            "acquisition_width": pd.to_numeric(table[width_col], errors="coerce") if width_col else np.nan,
            "acquisition_height": pd.to_numeric(table[height_col], errors="coerce") if height_col else np.nan,
        }
    )


def _box_columns(table: pd.DataFrame, csv_path: Path) -> dict[str, str]:
    """Map ``x, y, w, h`` to the box list's columns, whether spelled ``Bbox [x``, ``h]`` or plainly."""
    found: dict[str, str] = {}
    for col in table.columns:
        key = re.sub(r"bbox|[\[\]\s]", "", col.lower())
        if key in ("x", "y", "w", "h") and key not in found:
            found[key] = col
    missing = [k for k in ("x", "y", "w", "h") if k not in found]
    if missing:
        raise DataFormatError(f"{csv_path}: missing box column(s) {', '.join(missing)} (expected Bbox [x,y,w,h])")
    return found


def _disk_size(path: str) -> tuple[int, int] | None:
    """Width and height from the file header only (cheap); None if unreadable -- decoding errors are not ours."""
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def read_nih_boxes(csv_path: Path, images: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Boxes of the loaded images, rescaled from the 1024-px release to each file's size on disk."""
    if not csv_path.is_file():
        return pd.DataFrame(columns=BOX_COLUMNS), []
    table = read_table(csv_path)
    require_columns(table, ["Image Index", "Finding Label"], csv_path)
    coords = _box_columns(table, csv_path)
    path_of = dict(zip(images["image"], images["path"]))
    rows: list[dict[str, object]] = []
    skipped: list[tuple[str, str]] = []
    for _, row in table[table["Image Index"].isin(path_of)].iterrows():
        path = path_of[row["Image Index"]]
        size = _disk_size(path)
        if size is None:
            skipped.append((path, "box dropped: image header unreadable"))
            continue
        sx, sy = size[0] / NIH_BOX_SPACE, size[1] / NIH_BOX_SPACE
        x, y, w, h = (float(row[coords[k]]) for k in ("x", "y", "w", "h"))
        rows.append({"path": path, "finding": nih_name(row["Finding Label"]),
                     "x": x * sx, "y": y * sy, "w": w * sx, "h": h * sy})
    return pd.DataFrame(rows, columns=BOX_COLUMNS), skipped


def load_nih(path: str | Path) -> CXRDataset:
    """Read ChestX-ray14 from its folder or data entry CSV; rows without an image file are skipped."""
    csv_path = nih_csv(path)
    table = read_table(csv_path)
    require_columns(table, ["Image Index", "Finding Labels", "Patient ID"], csv_path)
    index = image_index(csv_path.parent)
    paths = [index.get(str(name)) for name in table["Image Index"]]
    found = np.array([p is not None for p in paths], dtype=bool)
    if len(table) and not found.any():
        raise DataFormatError(
            f"{csv_path}: none of its {len(table)} images found beside it, in images/ or in images_*/images/"
        )
    findings = [nih_name(f) for f in NIH_FINDINGS]
    labels = _label_matrix(table["Finding Labels"], findings)
    meta, labels = _meta(table, paths)[found].reset_index(drop=True), labels[found]
    skipped = [(str(name), "image file not found") for name in table.loc[~found, "Image Index"]]
    boxes, box_skips = read_nih_boxes(csv_path.parent / BBOX_CSV, meta)
    return CXRDataset(findings, labels, meta, boxes, csv_path.parent, skipped + box_skips)
