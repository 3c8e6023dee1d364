"""Score every saliency method on a dataset: localisation against radiologist boxes, faithfulness, robustness,
complexity and a randomisation sanity check, with chance levels and intervals, in one table.

Localisation runs on the images that carry a box of the chosen finding; the other metrics run on those images too,
or, when the data has no such box, on up to ``max_images`` images positive for the finding. Everything is computed
at the model's input resolution (boxes are rescaled from each file's pixel space), in batches per method; a failure
on one image is reported and that image skipped, never the run.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from chestxai.data.cache import cache_images
from chestxai.data.datasets.base import CXRDataset
from chestxai.data.io import read_image
from chestxai.errors import ChestXAIError, DataFormatError
from chestxai.evaluate import explanations as xm
from chestxai.models.classifier import Classifier



@dataclass
class EvalSet:
    """The images to score (model-resolution tensors), their box masks (None = no box) and names."""

    x: torch.Tensor
    masks: list[np.ndarray | None]
    boxes: list[tuple[float, float, float, float] | None]
    names: list[str]


def build_eval_set(model: Classifier, data: CXRDataset, finding: str, boxes: pd.DataFrame,
                   max_images: int = 50) -> EvalSet:
    """Images with a box of ``finding`` (several boxes on one image are merged into one mask), else positives."""
    size = model.preprocess.image_size
    boxes = boxes[boxes["finding"].map(_canon) == finding]
    by_path = {p: g for p, g in boxes.groupby("path")}
    rows = [i for i, p in enumerate(data.paths) if p in by_path]
    if not rows:
        col = data.findings.index(finding) if finding in data.findings else None
        rows = [i for i in range(len(data)) if col is None or data.labels[i, col] == 1][:max_images]
    if not rows:
        raise DataFormatError(f"no image with a {finding} box or label to evaluate explanations on")
    sub = data.subset(rows)
    cached = cache_images(sub, model.preprocess)
    keep = np.flatnonzero(cached.valid)
    x = model.preprocess.normalise(np.asarray(cached.images[keep]))
    masks, merged = [], []
    for i in keep:
        path = sub.paths[i]
        if path not in by_path:
            masks.append(None)
            merged.append(None)
            continue
        h, w = read_image(path).shape
        mask = np.zeros((size, size), bool)
        for _, b in by_path[path].iterrows():
            scaled = (b.x * size / w, b.y * size / h, b.w * size / w, b.h * size / h)
            mask |= xm.box_mask((size, size), scaled)
        masks.append(mask)
        ys, xs = np.nonzero(mask)
        merged.append((float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)))
    return EvalSet(x, masks, merged, [Path(sub.paths[i]).name for i in keep])


def _canon(name: str) -> str:
    from chestxai.data.findings import canonical_finding

    return canonical_finding(name)


def randomised_copy(model: Classifier, seed: int = 0) -> Classifier:
    """The same architecture with every parameter re-initialised (Adebayo et al.'s full randomisation)."""
    torch.manual_seed(seed)
    clone = copy.deepcopy(model)
    for module in clone.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return clone.eval()


def _maps(model: Classifier, method: str, x: torch.Tensor, finding: str) -> np.ndarray:
    from chestxai.explain import explain

    return np.stack([m.map for m in explain(model, x, method, finding)])


@dataclass
class MethodScores:
    """What scoring one method gives: per-image metrics (one row per image), its maps ``[N, H, W]`` (aligned with
    the eval set; the figures reuse them), pixel-flipping curves of the scored images, and per-image errors."""

    per_image: pd.DataFrame
    maps: np.ndarray
    curves: np.ndarray
    errors: list[str]


def score_method(model: Classifier, method: str, es: EvalSet, finding: str, steps: int, samples: int,
                 noise: float, seed: int) -> MethodScores:
    """Every registered metric (:data:`chestxai.evaluate.explanations.METRICS`) of ``method`` on each image."""
    index = model.finding_index(finding)
    maps = _maps(model, method, es.x, finding)
    random_maps = _maps(randomised_copy(model, seed), method, es.x, finding)
    rows, curves, errors = [], [], []
    for i in range(len(es.x)):
        sample = xm.Sample(model, es.x[i : i + 1], maps[i : i + 1], random_maps[i : i + 1], index, es.masks[i],
                           es.boxes[i], lambda xs: _maps(model, method, xs, finding), steps, samples, noise)
        try:
            row = {"method": method, "image": es.names[i], **xm.score_sample(sample)}
        except (ChestXAIError, ValueError, RuntimeError, AssertionError) as exc:
            errors.append(f"{method} on {es.names[i]}: {type(exc).__name__}: {str(exc)[:160]}")
            continue
        curves.append(row.pop("pixel_flipping_curve", np.full(steps, np.nan)))
        rows.append(row)
    return MethodScores(pd.DataFrame(rows), maps, np.asarray(curves), errors)


def random_order_baseline(model: Classifier, es: EvalSet, finding: str, steps: int) -> dict[str, float]:
    """Pixel-flipping AUC of a random removal order per image: method-independent, so computed once per run."""
    index = model.finding_index(finding)
    size = es.x.shape[-2:]
    return {name: float(xm.pixel_flipping(model, es.x[i : i + 1].numpy(), xm.random_order_maps((1, *size), i),
                                          index, steps)[0][0])
            for i, name in enumerate(es.names)}


def mean_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float, int]:
    """Mean and percentile-bootstrap 95% interval of the mean over images (NaNs excluded), and the count."""
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan"), 0
    boots = np.random.default_rng(seed).choice(v, size=(n_boot, len(v))).mean(axis=1)
    return float(v.mean()), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975)), len(v)


def summarise(per_image: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """One row per method: each metric's mean with ``_lo``/``_hi``, ``n`` images, degenerate-map count, chance."""
    rows = []
    for method in methods:
        df = per_image[per_image["method"] == method]
        row: dict[str, Any] = {"method": method}
        for metric in (*xm.METRICS, "pixel_flipping_random_auc", "chance_level"):
            mean, lo, hi, count = mean_ci(df[metric].to_numpy() if metric in df else np.array([]))
            row[metric], row[f"{metric}_lo"], row[f"{metric}_hi"], row[f"{metric}_n"] = mean, lo, hi, count
        row["n"] = int(len(df))
        row["degenerate_maps"] = int(df["degenerate"].sum()) if len(df) else 0
        for flag in ("randomised_constant", "lipschitz_undefined"):
            row[flag] = int(df[flag].fillna(False).astype(bool).sum()) if flag in df else 0
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(row: pd.Series, metric: str) -> str:
    mean = row.get(metric, float("nan"))
    if mean is None or np.isnan(mean):
        return "n/a"
    return f"{mean:.3f} [{row[metric + '_lo']:.3f}, {row[metric + '_hi']:.3f}]"


def markdown_summary(summary: pd.DataFrame, finding: str, image_size: int, errors: list[str]) -> str:
    """Metrics as rows, methods as columns, with the chance level and the source study's Grad-CAM figures."""
    methods = summary["method"].tolist()
    head = ["metric (better)", "chance / baseline", "source study (Grad-CAM)", *methods]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    first = summary.iloc[0]
    for metric, kind in xm.METRICS.items():
        if metric in ("relevance_mass_accuracy", "pointing_game", "relevance_rank_accuracy"):
            chance = _fmt(first, "chance_level") + " (box share)"
        elif metric == "pixel_flipping_auc":
            scored = summary.dropna(subset=["pixel_flipping_random_auc"])
            chance = (_fmt(scored.iloc[0], "pixel_flipping_random_auc") if len(scored) else "n/a") + " (random order)"
        elif metric == "pixel_auc":
            chance = "0.5"
        else:
            chance = ""
        src = xm.SOURCE_STUDY_GRADCAM.get(metric, "")
        cells = [f"{metric} ({kind.score_direction})", chance, str(src), *[_fmt(r, metric) for _, r in summary.iterrows()]]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("| n images | | | " + " | ".join(str(int(r["n"])) for _, r in summary.iterrows()) + " |")
    counts = {"constant/all-zero maps (not scored)": "degenerate_maps",
              "randomised-model map constant (Spearman undefined: map changed)": "randomised_constant",
              "a noisy copy's map all zero (Lipschitz undefined)": "lipschitz_undefined"}
    for label, column in counts.items():
        lines.append(f"| {label} | | | " + " | ".join(str(int(r.get(column, 0))) for _, r in summary.iterrows()) + " |")
    notes = [
        f"# Explanation quality for `{finding}`",
        "",
        f"Mean [95% bootstrap interval of the mean] over images, at the model's {image_size} px input. "
        "Localisation metrics count only images with a radiologist box; a constant map is counted, not scored. "
        "Pointing game: the map's maximum within 2 px of the box; a tied maximum (a plateau) scores its share of "
        "maximal pixels in the box, the expected hit of a random pick among them. "
        f"Complexity is the entropy of the normalised map (maximum log(H*W) = {np.log(image_size ** 2):.2f} here; "
        "the source study's 10.32 is at 224 px, maximum 10.82). Pixel-flipping AUC is the mean target probability "
        "while removing the most relevant pixels first (lower = more faithful); the random-order baseline is "
        "beside it. Local Lipschitz is in normalised-input units.",
        "",
        *lines,
        "",
    ]
    if errors:
        notes += [f"{len(errors)} image(s) failed and were skipped:", *[f"- {e}" for e in errors], ""]
    return "\n".join(notes)


def plot_curves(curves: dict[str, np.ndarray], path: Path) -> None:
    """Mean pixel-flipping curve per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, c in curves.items():
        if len(c) and not np.isnan(c).all():
            ax.plot(np.linspace(0, 1, c.shape[1]), np.nanmean(c, axis=0), label=method)
    ax.set(xlabel="fraction of pixels removed (most relevant first)", ylabel="p(target)", title="Pixel flipping")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_best_worst(es: EvalSet, maps: np.ndarray, per_image: pd.DataFrame, method: str, path: Path,
                    k: int = 3) -> None:
    """Best and worst localised images (by RMA) for ``method``: map overlay, radiologist box (green), map box (red);
    ``maps``: the method's maps of ``es`` as scored (:class:`MethodScores`), not recomputed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from chestxai.explain.evidence import to_box

    if "relevance_mass_accuracy" not in per_image:  # no image had a box: nothing is "localised"
        return
    df = per_image[(per_image["method"] == method)].dropna(subset=["relevance_mass_accuracy"])
    if df.empty:
        return
    df = df.sort_values("relevance_mass_accuracy")
    picks = list(df.tail(k)[::-1].itertuples()) + list(df.head(k).itertuples())
    fig, axes = plt.subplots(2, k, figsize=(3 * k, 6.4))
    for ax, rec in zip(axes.ravel(), picks):
        i = es.names.index(rec.image)
        m = maps[i]
        ax.imshow(es.x[i, 0].numpy(), cmap="gray")
        ax.imshow(m, cmap="jet", alpha=0.35)
        gt = es.boxes[i]
        ax.add_patch(Rectangle(gt[:2], gt[2], gt[3], fill=False, ec="lime", lw=1.5))
        pb = to_box(m)
        if pb is not None:
            ax.add_patch(Rectangle(pb[:2], pb[2], pb[3], fill=False, ec="red", lw=1.2))
        ax.set_title(f"{rec.image[:18]}\nRMA {rec.relevance_mass_accuracy:.2f}", fontsize=8)
        ax.axis("off")
    for ax in axes.ravel()[len(picks):]:
        ax.axis("off")
    fig.suptitle(f"{method}: best (top) and worst (bottom) localised; green = radiologist, red = map box")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def evaluate_explanations(
    model: Classifier,
    data: CXRDataset,
    finding: str,
    methods: list[str],
    out_dir: str | Path,
    boxes: pd.DataFrame | None = None,
    steps: int = 32,
    samples: int = 5,
    noise: float = 0.1,
    max_images: int = 50,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Write summary.csv/.md, per_image.csv, pixel_flipping.png and best_worst_<method>.png; return the summary.

    ``boxes`` given (not the data's own) but none of ``finding`` on an image of ``data`` is a user error: the run
    would otherwise fall back to the positives and silently leave localisation out.
    """
    finding = model.findings[model.finding_index(finding)]
    if boxes is not None and not boxes["path"][boxes["finding"].map(_canon) == finding].isin(set(data.paths)).any():
        raise DataFormatError(f"the boxes given: no {finding} box names an image of --data (column image: a path "
                              "relative to the CSV, or a file name)")
    es = build_eval_set(model, data, finding, data.boxes if boxes is None else boxes, max_images)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores = {method: score_method(model, method, es, finding, steps, samples, noise, seed)
              for method in tqdm(methods, desc="methods", disable=not progress, file=sys.stderr)}
    frames = [sc.per_image for sc in scores.values()]
    curves = {method: sc.curves for method, sc in scores.items()}
    errors = [e for sc in scores.values() for e in sc.errors]
    per_image = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if per_image.empty:
        raise DataFormatError("every image failed: " + "; ".join(errors[:3]))
    baseline = random_order_baseline(model, es, finding, steps)
    scored = per_image.get("pixel_flipping_auc", pd.Series(np.nan, index=per_image.index)).notna()
    per_image["pixel_flipping_random_auc"] = per_image["image"].map(baseline).where(scored)
    summary = summarise(per_image, methods)
    per_image.to_csv(out / "per_image.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    (out / "summary.md").write_text(markdown_summary(summary, finding, model.preprocess.image_size, errors))
    plot_curves(curves, out / "pixel_flipping.png")
    for method, sc in scores.items():
        plot_best_worst(es, sc.maps, per_image, method, out / f"best_worst_{method}.png")
    return summary
