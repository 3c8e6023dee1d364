"""Classification metrics: AUC with a bootstrap interval, accuracy, sensitivity/specificity, ROC curves.

Metrics are functions of plain arrays; NaN labels (unknown) are dropped per finding. Higher is better for all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC = P(score of a random positive > score of a random negative); NaN when one class is absent."""
    y, p = _known(y, p)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, p))


def auc_ci(y: np.ndarray, p: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC (resampling images; resamples with one class are redrawn out)."""
    y, p = _known(y, p)
    if len(np.unique(y)) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(n_boot, len(y)))
    ys, ps = y[idx], p[idx]
    ok = (ys.min(axis=1) == 0) & (ys.max(axis=1) == 1)
    values = _rank_auc(ys[ok], ps[ok])
    lo, hi = np.quantile(values, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def _rank_auc(ys: np.ndarray, ps: np.ndarray) -> np.ndarray:
    """Row-wise Mann-Whitney AUC with average ranks for ties (vectorised for the bootstrap)."""
    from scipy.stats import rankdata

    ranks = rankdata(ps, axis=1)
    npos = ys.sum(axis=1)
    nneg = ys.shape[1] - npos
    return ((ranks * ys).sum(axis=1) - npos * (npos + 1) / 2) / (npos * nneg)


def _known(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    keep = ~np.isnan(y)
    return y[keep].astype(int), p[keep]


def threshold_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, sensitivity (recall of positives) and specificity at ``threshold``."""
    y, p = _known(y, p)
    pred = p >= threshold
    pos, neg = y == 1, y == 0
    return {
        "accuracy": float(np.mean(pred == pos)) if len(y) else float("nan"),
        "sensitivity": float(np.mean(pred[pos])) if pos.any() else float("nan"),
        "specificity": float(np.mean(~pred[neg])) if neg.any() else float("nan"),
    }


def finding_report(
    y: np.ndarray, p: np.ndarray, threshold: float = 0.5, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """All metrics of one finding: auc, auc_ci, n, positives, accuracy, sensitivity, specificity, threshold."""
    yk, _ = _known(y, p)
    return {
        "auc": auc(y, p),
        "auc_ci": list(auc_ci(y, p, n_boot=n_boot, seed=seed)),
        "n": int(len(yk)),
        "positives": int(yk.sum()),
        "threshold": float(threshold),
        **threshold_metrics(y, p, threshold),
    }


def classification_report(
    labels: np.ndarray,
    probs: np.ndarray,
    findings: list[str],
    threshold: float | dict[str, float] = 0.5,
    groups: dict[str, np.ndarray] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """``{finding: finding_report(...)}``, plus ``by_<group>`` sub-reports (e.g. by source, by view).

    ``threshold`` is one value for every finding or ``{finding: value}`` (a shipped model's decision thresholds).

    Subgroups matter here: in ``../shared/data`` the pneumonia label follows the image's source, so only the AUC
    within one source is an honest pneumonia figure. Groups with a single class get ``auc`` NaN and are kept.
    """
    report: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(findings):
        t = threshold[name] if isinstance(threshold, dict) else threshold
        entry = finding_report(labels[:, j], probs[:, j], t, n_boot, seed)
        for group_name, values in (groups or {}).items():
            entry[f"by_{group_name}"] = {
                str(g): finding_report(labels[values == g, j], probs[values == g, j], t, n_boot, seed)
                for g in sorted(set(values.tolist()))
            }
        report[name] = entry
    return report


def mean_auc(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean AUC over findings that have both classes (the model-selection score)."""
    values = [auc(labels[:, j], probs[:, j]) for j in range(labels.shape[1])]
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.3f}"


def markdown_table(report: dict[str, dict[str, Any]]) -> str:
    """A Markdown table: one row per finding, then one per subgroup with both classes."""
    lines = [
        "| finding | group | n | positives | AUC | 95% CI | accuracy | sensitivity | specificity |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def row(name: str, group: str, e: dict[str, Any]) -> str:
        lo, hi = e["auc_ci"]
        ci = "n/a" if np.isnan(lo) else f"{lo:.3f}-{hi:.3f}"
        return (
            f"| {name} | {group} | {e['n']} | {e['positives']} | {_fmt(e['auc'])} | {ci} | {_fmt(e['accuracy'])} "
            f"| {_fmt(e['sensitivity'])} | {_fmt(e['specificity'])} |"
        )

    for name, entry in report.items():
        lines.append(row(name, "all", entry))
        for key, sub in entry.items():
            if key.startswith("by_"):
                for g, e in sub.items():
                    if not np.isnan(e["auc"]):
                        lines.append(row(name, f"{key[3:]}={g}", e))
    return "\n".join(lines) + "\n"


def plot_roc(labels: np.ndarray, probs: np.ndarray, findings: list[str], path: str, title: str = "ROC") -> None:
    """Write one ROC figure with a curve per finding (AUC in the legend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    for j, name in enumerate(findings):
        y, p = _known(labels[:, j], probs[:, j])
        if len(np.unique(y)) < 2:
            continue
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc(y, p):.3f}, n={len(y)})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title=title, xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
