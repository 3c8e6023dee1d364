"""The one dataset interface every reader returns.

Readers (CheXpert, NIH, Kaggle folders, plain CSV) differ only in how they fill four aligned fields; everything
downstream (split, cache, training, evaluation, catalogue) reads only these:

- ``findings``: ordered canonical finding names (columns of ``labels``);
- ``labels``: float32 array ``[N, F]`` with 1/0 and NaN for "unknown" (masked out of losses and metrics);
- ``meta``: DataFrame aligned with ``labels``; columns ``path`` (absolute file path), ``patient_id``, ``view``
  (``PA``/``AP``/``LATERAL``/``""`` when unknown), ``source`` and whatever else the reader keeps;
- ``boxes``: DataFrame ``path, finding, x, y, w, h`` in the pixel space of the image file as stored on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chestxai.errors import UnknownFindingError

FRONTAL_VIEWS = {"PA", "AP", "FRONTAL", "AP SUPINE", "AP ERECT"}
BOX_COLUMNS = ["path", "finding", "x", "y", "w", "h"]


@dataclass
class CXRDataset:
    """Images with multi-label findings, patient ids, views and optional radiologist boxes."""

    findings: list[str]
    labels: np.ndarray
    meta: pd.DataFrame
    boxes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BOX_COLUMNS))
    root: Path | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.float32).reshape(len(self.meta), len(self.findings))
        self.meta = self.meta.reset_index(drop=True)
        for col, default in (("patient_id", ""), ("view", ""), ("source", "")):
            if col not in self.meta.columns:
                self.meta[col] = default
        self.meta["patient_id"] = self.meta["patient_id"].fillna("").astype(str)
        self.meta["view"] = self.meta["view"].fillna("").astype(str).str.upper().str.strip()
        # A file without a patient id is its own patient: never merge unknowns into one giant "patient".
        missing = self.meta["patient_id"] == ""
        self.meta.loc[missing, "patient_id"] = "file:" + self.meta.loc[missing, "path"].astype(str)

    def __len__(self) -> int:
        return len(self.meta)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Decode one image (float32 H x W in [0, 1]) with its label row; use the cache for training loops."""
        from chestxai.data.io import read_image

        return {"image": read_image(self.meta.at[index, "path"]), "labels": self.labels[index], "index": index}

    @property
    def paths(self) -> list[str]:
        return self.meta["path"].astype(str).tolist()

    def subset(self, indices: np.ndarray | list[int]) -> "CXRDataset":
        """Rows ``indices`` (boxes follow their images)."""
        idx = np.asarray(indices, dtype=int)
        meta = self.meta.iloc[idx].reset_index(drop=True)
        keep = set(meta["path"])
        boxes = self.boxes[self.boxes["path"].isin(keep)].reset_index(drop=True)
        return CXRDataset(list(self.findings), self.labels[idx], meta, boxes, self.root, list(self.skipped))

    def select(self, findings: list[str] | None) -> "CXRDataset":
        """Keep (and order) the label columns ``findings``; an unknown name is a user error."""
        if findings is None:
            return self
        unknown = [f for f in findings if f not in self.findings]
        if unknown:
            raise UnknownFindingError(
                f"finding(s) {', '.join(unknown)} not in the data (it has: {', '.join(self.findings)})"
            )
        cols = [self.findings.index(f) for f in findings]
        return CXRDataset(list(findings), self.labels[:, cols], self.meta, self.boxes, self.root, list(self.skipped))

    def frontal_only(self) -> "CXRDataset":
        """Drop images whose view is known and not frontal (lateral views); unknown views are kept."""
        view = self.meta["view"]
        keep = (view == "") | view.isin(FRONTAL_VIEWS)
        return self.subset(np.flatnonzero(keep.to_numpy()))

    def describe(self) -> dict[str, Any]:
        """Counts per finding (positives, negatives, unknown) for logs and reports."""
        out: dict[str, Any] = {"images": len(self), "patients": int(self.meta["patient_id"].nunique())}
        for j, name in enumerate(self.findings):
            col = self.labels[:, j]
            out[name] = {
                "positive": int(np.sum(col == 1)),
                "negative": int(np.sum(col == 0)),
                "unknown": int(np.sum(np.isnan(col))),
            }
        if self.skipped:
            out["skipped"] = len(self.skipped)
        return out
