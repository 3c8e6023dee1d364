"""Classification metrics on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chestxai.evaluate.classification import (
    auc,
    auc_ci,
    classification_report,
    markdown_table,
    threshold_metrics,
)


def test_auc_hand_computed_with_ties_and_unknowns() -> None:
    # pairs (pos, neg): (0.8 > 0.1), (0.8 > 0.4), (0.4 = 0.4 -> 1/2), (0.4 > 0.1) -> 3.5 / 4
    y = np.array([1, 1, 0, 0, np.nan])
    p = np.array([0.8, 0.4, 0.4, 0.1, 0.99])
    assert auc(y, p) == pytest.approx(0.875)
    assert math.isnan(auc(np.array([1, 1]), np.array([0.2, 0.3])))


def test_bootstrap_interval_contains_the_estimate_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = y * 0.5 + rng.random(300)
    lo, hi = auc_ci(y, p, n_boot=500, seed=1)
    assert lo < auc(y, p) < hi
    assert (lo, hi) == auc_ci(y, p, n_boot=500, seed=1)
    assert hi - lo < 0.15


def test_threshold_metrics() -> None:
    y = np.array([1, 1, 1, 0, 0])
    p = np.array([0.9, 0.6, 0.2, 0.7, 0.1])
    m = threshold_metrics(y, p, 0.5)
    assert m == {"accuracy": pytest.approx(3 / 5), "sensitivity": pytest.approx(2 / 3), "specificity": 0.5}


def test_report_takes_one_threshold_per_finding() -> None:
    y = np.array([[1, 1], [1, 0], [0, 1], [0, 0]], dtype=float)
    p = np.array([[0.30, 0.9], [0.20, 0.6], [0.10, 0.7], [0.05, 0.2]])
    report = classification_report(y, p, ["effusion", "pneumonia"], threshold={"effusion": 0.15, "pneumonia": 0.5},
                                   n_boot=20)
    assert report["effusion"]["threshold"] == 0.15 and report["effusion"]["accuracy"] == 1.0
    assert report["pneumonia"]["threshold"] == 0.5 and report["pneumonia"]["accuracy"] == 0.75


def test_report_has_subgroups_and_table() -> None:
    y = np.array([[1], [0], [1], [0], [0], [0]], dtype=float)
    p = np.array([[0.9], [0.1], [0.8], [0.3], [0.2], [0.4]])
    source = np.array(["a", "a", "a", "a", "b", "b"])
    report = classification_report(y, p, ["effusion"], groups={"source": source}, n_boot=50)
    assert report["effusion"]["auc"] == 1.0 and report["effusion"]["n"] == 6
    assert report["effusion"]["by_source"]["a"]["auc"] == 1.0
    assert math.isnan(report["effusion"]["by_source"]["b"]["auc"])  # one class only: kept, marked n/a
    table = markdown_table(report)
    assert "| effusion | all | 6 | 2 | 1.000 |" in table and "source=a" in table and "source=b" not in table
