"""Patient-level split: no leakage, determinism, fractions, rare positives in every split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chestxai.data.datasets.base import CXRDataset
from chestxai.data.split import cut_sizes, holdout_split, patient_split
from chestxai.errors import ConfigError


def _meta(n_patients: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """1-3 images per patient; ``rare`` positive for 3 patients, ``common`` for about 40%."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for p in range(n_patients):
        common = float(rng.random() < 0.4)
        rare = float(p in (5, 77, 150))
        for k in range(int(rng.integers(1, 4))):
            rows.append({"path": f"/x/{p}_{k}.png", "patient_id": f"p{p}"})
            labels.append([common, rare if k == 0 else np.nan])
    return pd.DataFrame(rows), np.array(labels, dtype=np.float32)


def test_every_row_once_and_no_patient_in_two_splits() -> None:
    meta, labels = _meta()
    split = patient_split(meta, labels=labels)
    all_rows = np.concatenate(list(split.values()))
    assert sorted(all_rows.tolist()) == list(range(len(meta)))
    owners = [set(meta["patient_id"].iloc[idx]) for idx in split.values()]
    assert not (owners[0] & owners[1]) and not (owners[0] & owners[2]) and not (owners[1] & owners[2])


def test_deterministic_and_seed_dependent() -> None:
    meta, labels = _meta()
    a, b = patient_split(meta, seed=3, labels=labels), patient_split(meta, seed=3, labels=labels)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = patient_split(meta, seed=4, labels=labels)
    assert not np.array_equal(a["test"], c["test"])


def test_row_order_does_not_change_patient_assignment() -> None:
    meta, labels = _meta()
    order = np.random.default_rng(1).permutation(len(meta))
    first = patient_split(meta, labels=labels)
    second = patient_split(meta.iloc[order].reset_index(drop=True), labels=labels[order])
    test_patients = set(meta["patient_id"].iloc[first["test"]])
    assert test_patients == set(meta["patient_id"].iloc[order].iloc[second["test"]])


def test_fractions_are_respected_by_patient_count() -> None:
    meta, labels = _meta(400)
    split = patient_split(meta, (0.6, 0.2, 0.2), labels=labels)
    patients = {k: meta["patient_id"].iloc[v].nunique() for k, v in split.items()}
    assert patients["train"] == pytest.approx(240, abs=3)
    assert patients["val"] == pytest.approx(80, abs=3) and patients["test"] == pytest.approx(80, abs=3)


def test_rare_finding_reaches_every_split() -> None:
    meta, labels = _meta()
    for seed in range(5):
        split = patient_split(meta, seed=seed, labels=labels)
        assert all(np.nansum(labels[idx, 1]) >= 1 for idx in split.values())


def test_zero_fraction_gives_empty_split() -> None:
    meta, labels = _meta(50)
    split = patient_split(meta, (0.8, 0.2, 0.0), labels=labels)
    assert split["test"].size == 0 and split["train"].size + split["val"].size == len(meta)


def test_without_labels_or_patient_ids() -> None:
    meta = pd.DataFrame({"path": [f"/x/{i}.png" for i in range(20)]})
    split = patient_split(meta, (0.5, 0.25, 0.25))
    assert [len(split[k]) for k in ("train", "val", "test")] == [10, 5, 5]


@pytest.mark.parametrize("bad", [(0.5, 0.5, 0.5), (1.2, -0.1, -0.1), (0.5, 0.5), (float("nan"), 0.5, 0.5)])
def test_invalid_fractions(bad: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="fractions"):
        patient_split(pd.DataFrame({"patient_id": ["a", "b"]}), bad)  # type: ignore[arg-type]


def test_cut_sizes_gives_each_split_one_when_possible() -> None:
    shares = np.array([0.7, 0.15, 0.15])
    assert cut_sizes(3, shares).tolist() == [1, 1, 1]
    assert cut_sizes(2, shares).tolist() == [2, 0, 0]  # too few to give every split one
    assert cut_sizes(100, shares).tolist() == [70, 15, 15]
    assert cut_sizes(10, np.array([1.0, 0.0, 0.0])).tolist() == [10, 0, 0]


def test_holdout_split_is_the_dev_test_cut_of_patient_split() -> None:
    """Every benchmark and the report find the training protocol's test patients through this one cut."""
    meta, labels = _meta()
    data = CXRDataset(["common", "rare"], labels, meta)
    dev, test = holdout_split(data, 0.2, seed=5)
    parts = patient_split(meta, (0.8, 0.0, 0.2), seed=5, labels=labels)
    assert dev.meta["path"].tolist() == meta["path"].iloc[parts["train"]].tolist()
    assert test.meta["path"].tolist() == meta["path"].iloc[parts["test"]].tolist()
    assert not set(dev.meta["patient_id"]) & set(test.meta["patient_id"])
    assert np.nansum(test.labels[:, 1]) >= 1  # stratified on the dataset's own labels: the rare positive is kept
