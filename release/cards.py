"""The model card of a shipped model, shared by the release steps that write it.

``ship_model.py`` makes a card from a training run; ``calibration.py --apply`` rewrites its thresholds, sample AUCs
and examples after a prior shift. Both render ``MODEL_CARD.md`` from ``card.json`` with
:func:`chestxai.models.card.render_card`, so the human card is always the machine card's numbers (re-rendering an
unchanged ``card.json`` gives the same bytes). Run as scripts from this folder (``python release/ship_model.py``), they import this module as their neighbour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from chestxai.data.datasets import load_dataset
from chestxai.evaluate.classification import auc, auc_ci
from chestxai.evaluate.report import predict_dataset


def auc_entry(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    known = ~np.isnan(y)
    return {"auc": auc(y, p), "ci": list(auc_ci(y, p)), "n": int(known.sum()), "positives": int(np.nansum(y))}


def judged_within(n_sources: int, positives: float, negatives: float, min_each: int = 5) -> bool:
    """Whether a source gets its own AUC row: there are several sources, and it holds ``min_each`` of each class."""
    return n_sources > 1 and min(positives, negatives) >= min_each


def sample_metrics(model, folder: Path) -> tuple[dict[str, Any], np.ndarray, Any]:
    """AUCs on the shipped sample files (and within each source having both classes), plus the predictions."""
    data = load_dataset(folder, findings=model.findings)
    probs, valid, errors = predict_dataset(model, data)
    if errors:
        raise SystemExit(f"unreadable shipped sample images: {errors}")
    metrics: dict[str, Any] = {}
    for j, finding in enumerate(model.findings):
        y = data.labels[:, j]
        metrics[finding] = auc_entry(y, probs[:, j])
        for source in sorted(data.meta["source"].astype(str).unique()):
            inside = (data.meta["source"].astype(str) == source).to_numpy()
            ys = y[inside]
            if judged_within(data.meta["source"].nunique(), np.nansum(ys), np.nansum(1 - ys)):
                metrics[finding].setdefault("within_source", {})[source] = auc_entry(ys, probs[inside, j])
    return metrics, probs, data


def examples(data, probs: np.ndarray, findings: list[str], thresholds: dict[str, float], n: int = 3) -> list[dict]:
    """Per finding, the most confident correct positives and negatives: a regression check for the shipped file."""
    out = []
    for j, finding in enumerate(findings):
        y, p, t = data.labels[:, j], probs[:, j], thresholds[finding]
        paths = data.meta["path"].astype(str).to_numpy()
        pos = [i for i in np.argsort(-p) if y[i] == 1 and p[i] >= t][:n]
        neg = [i for i in np.argsort(p) if y[i] == 0 and p[i] < t][:n]
        for i in pos + neg:
            out.append({"image": str(Path(paths[i]).relative_to(Path(paths[i]).parents[1])), "finding": finding,
                        "label": int(y[i]), "probability": round(float(p[i]), 4)})
    return out
