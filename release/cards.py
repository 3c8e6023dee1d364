"""The model card of a shipped model, shared by the release steps that write it.

``ship_model.py`` makes a card from a training run; ``calibration.py --apply`` rewrites its thresholds, sample AUCs
and examples after a prior shift. Both render ``MODEL_CARD.md`` from ``card.json`` with :func:`render_card`, so the
human card is always the machine card's numbers (re-rendering an unchanged ``card.json`` gives the same bytes).
Run as scripts from this folder (``python release/ship_model.py``), they import this module as their neighbour.
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


def probability_lines(card: dict[str, Any]) -> list[str]:
    """The card's line on what its probabilities mean: a --pos-weight run reports them with -log w taken back off."""
    shift = {f: v for f, v in (card.get("logit_shift") or {}).items() if v}
    if not shift:
        return []
    line = ("- Probabilities: training weighted positives by w = negatives / positives (`--pos-weight`), which "
            "multiplies the odds the network learns by w; reported probabilities take it back off (logit shift "
            + ", ".join(f"{f} {v:+.2f}" for f, v in shift.items()) + "), so they sit on the training prevalence's "
            "scale. Thresholds above are on that scale.")
    held_out = card.get("calibration") or {}
    if held_out:
        line += (" Held-out test patients (`release/results/calibration.md`), expected calibration error "
                 "without -> with the shift: " + ", ".join(
                     f"{f} {r['raw']['ece']['value']:.3f} -> {r['prior']['ece']['value']:.3f} (mean probability "
                     f"{r['raw']['mean_p']['value']:.2f} -> {r['prior']['mean_p']['value']:.2f}, prevalence "
                     f"{r['prior']['prevalence']:.2f})" for f, r in held_out.items() if f in shift) + ".")
    return [line]


def render_card(card: dict[str, Any]) -> str:
    """The human model card, from the same numbers as card.json."""
    def row(f: str, e: dict[str, Any]) -> str:
        return f"| {f} | {e['auc']:.3f} | {e['ci'][0]:.3f}-{e['ci'][1]:.3f} | {e['n']} | {e['positives']} |"

    def rows(f: str, e: dict[str, Any]) -> list[str]:
        return [row(f, e)] + [row(f"{f} within {source}", w) for source, w in e.get("within_source", {}).items()]

    within = card.get("within_source") or []
    learned = (f" {', '.join(within)} learned only within the source where it varies (`--within-source`: its "
               "label ignored on the images of a source with under 10% positives, so the network cannot score it "
               "by recognising the source); its validation AUC is therefore within that source." if within else "")

    ssl = card.get("pretraining")
    pretrained = (f" The trunk was first pretrained without labels (SimCLR, `release/pretrain_ssl.py`) on "
                  f"{ssl['images']:,} radiographs (all of the paediatric folder and the development patients here; "
                  f"the test patients never seen): {ssl['steps']} steps, {ssl['epochs']:.1f} epochs, "
                  f"{ssl['minutes']:.0f} minutes, contrastive loss {ssl['loss'][0]:.2f} -> {ssl['loss'][1]:.2f}; "
                  + ", then ".join(f"`{c}`" for c in ssl["commands"]) + " repeat"
                  + ("s" if len(ssl["commands"]) == 1 else "") + " the recipe." if ssl else "")
    lines = [f"# Model card: `{card['name']}` — {card['title']}", "",
             "**Research tool, not a medical device.** It must not be used to diagnose, treat or triage patients.", "",
             "## Model", "",
             f"- Architecture: {card['arch']} (torchvision), "
             f"{'trunk from ' + card['init'] + ' (see Training; ' if card.get('init') else 'random initialisation ('}"
             "no ImageNet weights were available), "
             f"{card['image_size']} px grayscale input, one sigmoid output per finding: {', '.join(card['findings'])}.",
             "- Decision thresholds (Youden's J on the validation split): "
             + ", ".join(f"{f} {t:.3f}" for f, t in card["thresholds"].items()) + ".",
             *probability_lines(card),
             f"- File: half-precision checkpoint, {card['size_mb']:.1f} MB.", "",
             "## Data and licences", "", card["data"], "",
             "## Training", "",
             f"Recipe: `chestxai train` (BCEWithLogits, AdamW wd 1e-4, ReduceLROnPlateau 0.1/5, early stopping, "
             f"batch 32, albumentations flip/brightness-contrast/elastic/blur/rotation/affine/crop, EMA weights). "
             f"Command: `{card['command']}`, then `{card['ship_command']}`. "
             f"Best epoch {card['best_epoch']}; {card['train_minutes']:.0f} wall minutes of training on 2 CPU cores."
             + learned + pretrained, "",
             "## Validation (patient-level split of the training folder, used for model selection)", "",
             "| finding | AUC | 95% CI | n | positives |", "|---|---|---|---|---|",
             *[row(f, e) for f, e in card["validation"].items()], ""]
    if card.get("test"):
        lines += ["## Held-out test patients (full resolution, never seen in training or selection)", "",
                  "| finding | AUC | 95% CI | n | positives |", "|---|---|---|---|---|",
                  *[line for f, e in card["test"].items() for line in rows(f, e)], ""]
    lines += [f"## Shipped sample (`assets/samples/{card['sample']}`, downscaled test patients; re-checked by the tests)",
              "", "| finding | AUC | 95% CI | n | positives |", "|---|---|---|---|---|"]
    lines += [line for f, e in card["sample_auc"].items() for line in rows(f, e)]
    lines += ["", "## Intended use and limits", "", card["limits"], ""]
    return "\n".join(lines)
