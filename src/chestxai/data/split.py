"""Patient-level train/val/test split.

Follow-up images of one patient look alike (same anatomy, same devices), so an image-level split leaks the answer
into the test set and inflates AUCs; every split here is by ``patient_id``. With few positives (40 effusion boxes,
a rare finding in NIH) a purely random cut can leave a split without any positive, which makes its AUC undefined,
so the split is lightly stratified: each patient is put in the group of its rarest positive finding (or "none"),
the patients of each group are shuffled with the seed and each group is cut by the fractions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from chestxai.errors import ConfigError

if TYPE_CHECKING:
    from chestxai.data.datasets.base import CXRDataset

SPLIT_NAMES = ("train", "val", "test")


def check_fractions(fractions: tuple[float, float, float] | list[float]) -> np.ndarray:
    """Three non-negative fractions summing to 1; anything else cannot describe a split."""
    values = np.asarray(list(fractions), dtype=float)
    if values.shape != (3,) or not np.all(np.isfinite(values)):
        raise ConfigError(f"split fractions must be three numbers (train, val, test), got {list(fractions)}")
    if np.any(values < 0) or not math.isclose(float(values.sum()), 1.0, abs_tol=1e-6):
        raise ConfigError(f"split fractions must be non-negative and sum to 1, got {values.tolist()}")
    return values


def cut_sizes(n: int, fractions: np.ndarray) -> np.ndarray:
    """How many of ``n`` items each split gets: largest remainders, and at least one per non-empty split if n allows.

    The minimum of one matters for the small groups of rare positives: 3 patients with 0.7/0.15/0.15 must give one
    positive to each split rather than two to train and one to val.
    """
    exact = fractions * n
    sizes = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - sizes), kind="stable")[: max(0, n - int(sizes.sum()))]:
        sizes[i] += 1
    wanted = fractions > 0
    if n >= int(wanted.sum()):
        for i in np.flatnonzero(wanted & (sizes == 0)):
            sizes[int(np.argmax(sizes))] -= 1
            sizes[i] += 1
    return sizes


def _patient_groups(patients: pd.Series, labels: np.ndarray | None) -> pd.Series:
    """Per patient, the index of its rarest positive finding (by positive patients), or -1 with none."""
    unique = pd.Index(patients.unique())
    if labels is None or labels.ndim != 2 or labels.shape[1] == 0:
        return pd.Series(-1, index=unique)
    positive = pd.DataFrame(np.nan_to_num(labels, nan=0.0) == 1).groupby(patients.to_numpy()).any()
    positive = positive.reindex(unique)
    counts = positive.sum(axis=0).to_numpy()
    rarity = np.where(positive.to_numpy(), counts[None, :], np.iinfo(np.int64).max)
    group = np.where(positive.to_numpy().any(axis=1), rarity.argmin(axis=1), -1)
    return pd.Series(group, index=unique)


def patient_split(
    meta: pd.DataFrame,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    labels: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Row indices of ``meta`` for ``train``/``val``/``test``; no patient in two splits, same seed -> same split."""
    shares = check_fractions(fractions)
    if "patient_id" in meta.columns:
        patients = meta["patient_id"].fillna("").astype(str).reset_index(drop=True)
    else:  # no patient information: each image is its own patient
        patients = pd.Series([f"row:{i}" for i in range(len(meta))])
    if labels is not None and len(labels) != len(meta):
        raise ConfigError(f"labels have {len(labels)} rows but meta has {len(meta)}")
    groups = _patient_groups(patients, labels)
    rng = np.random.default_rng(seed)
    assigned: dict[str, int] = {}
    for group in sorted(groups.unique()):
        members = np.array(sorted(groups.index[groups == group]), dtype=object)  # sorted: row order does not matter
        members = members[rng.permutation(len(members))]
        bounds = np.cumsum(cut_sizes(len(members), shares))
        for split, chunk in enumerate(np.split(members, bounds[:-1])):
            assigned.update(dict.fromkeys(chunk.tolist(), split))
    which = patients.map(assigned).to_numpy()
    return {name: np.flatnonzero(which == i).astype(np.int64) for i, name in enumerate(SPLIT_NAMES)}


def holdout_rows(
    meta: pd.DataFrame, test_fraction: float, seed: int = 0, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Development and held-out test rows: :func:`patient_split` with no validation part.

    Why one function: the reference training run, the shipped sample, the reproduction report and every benchmark
    must find the very same test patients, so they all cut them here (the training loop then draws its own
    validation patients from the development rows).
    """
    parts = patient_split(meta, (1.0 - test_fraction, 0.0, test_fraction), seed=seed, labels=labels)
    return parts["train"], parts["test"]


def holdout_split(
    dataset: CXRDataset, test_fraction: float, seed: int = 0, labels: np.ndarray | None = None
) -> tuple[CXRDataset, CXRDataset]:
    """The development and held-out test parts of ``dataset`` (:func:`holdout_rows`; stratified on ``labels``,
    by default the dataset's own)."""
    dev, test = holdout_rows(dataset.meta, test_fraction, seed, dataset.labels if labels is None else labels)
    return dataset.subset(dev), dataset.subset(test)
