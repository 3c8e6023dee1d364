"""Evaluate a model on a dataset and write the report files (metrics.json, metrics.md, roc.png)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from chestxai.data.atomic import atomic_write_text
from chestxai.data.cache import cache_images
from chestxai.data.datasets.base import CXRDataset
from chestxai.errors import DataFormatError, UnknownFindingError
from chestxai.evaluate.classification import classification_report, markdown_table, plot_roc
from chestxai.models.classifier import Classifier

GROUP_COLUMNS = ("source", "view")


def predict_dataset(model: Classifier, dataset: CXRDataset, strict: bool = False) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Probabilities ``[N, F]`` over the dataset (NaN rows for unreadable images), the valid mask and the errors."""
    cached = cache_images(dataset, model.preprocess, strict=strict)
    probs = np.full((len(dataset), len(model.findings)), np.nan, dtype=np.float32)
    idx = np.flatnonzero(cached.valid)
    for start in range(0, len(idx), 256):
        chunk = idx[start : start + 256]
        probs[chunk] = model.predict_tensor(model.preprocess.normalise(np.asarray(cached.images[chunk])))
    return probs, cached.valid, cached.errors


def shared_findings(model: Classifier, dataset: CXRDataset) -> list[str]:
    """Findings both the model predicts and the data labels; none in common is a user error."""
    common = [f for f in model.findings if f in dataset.findings]
    if not common:
        raise UnknownFindingError(
            f"the data labels {', '.join(dataset.findings) or 'no findings'} but the model predicts "
            f"{', '.join(model.findings)}: nothing to evaluate"
        )
    return common


def evaluate_model(
    model: Classifier,
    dataset: CXRDataset,
    out_dir: str | Path,
    threshold: float | dict[str, float] = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    strict: bool = False,
) -> dict[str, Any]:
    """Write ``metrics.json`` ({finding: {auc, auc_ci, n, ...}}), ``metrics.md`` and ``roc.png`` to ``out_dir``.

    ``threshold``: one value, or ``{finding: value}`` (accuracy at a shipped model's own decision lines).
    """
    findings = shared_findings(model, dataset)
    data = dataset.select(findings)
    probs_all, valid, errors = predict_dataset(model, data, strict)
    if not valid.any():
        raise DataFormatError("no readable image in the data")
    cols = [model.findings.index(f) for f in findings]
    probs, labels = probs_all[valid][:, cols], data.labels[valid]
    meta = data.meta[valid].reset_index(drop=True)
    groups = {c: meta[c].astype(str).to_numpy() for c in GROUP_COLUMNS if c in meta and meta[c].nunique() > 1}
    report = classification_report(labels, probs, findings, threshold, groups, n_boot, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(json.dumps(report, indent=2, default=float), out / "metrics.json")
    header = (
        f"# Evaluation of `{model.arch}` ({', '.join(findings)})\n\n"
        f"{int(valid.sum())} images evaluated, {len(errors)} unreadable skipped; {threshold_text(threshold)}; "
        f"AUC 95% CI by bootstrap ({n_boot} resamples).\n\n"
    )
    (out / "metrics.md").write_text(header + markdown_table(report))
    plot_roc(labels, probs, findings, str(out / "roc.png"), "ROC")
    np.savez(out / "predictions.npz", probs=probs, labels=labels, paths=np.asarray(meta["path"].astype(str)))
    return report


def threshold_text(threshold: float | dict[str, float]) -> str:
    """The threshold(s) accuracy was measured at, as the tables' header says it."""
    if isinstance(threshold, dict):
        return "thresholds " + ", ".join(f"{f} {t:.3f}" for f, t in threshold.items())
    return f"threshold {threshold}"
