"""A linear probe of a frozen trunk: logistic regression on its pooled features, dev patients -> test patients.

    python experiments/linear_probe.py --trunk runs/ssl5/ssl.pt [--image-size 128] \
        --out experiments/results/linear_probe/linear_probe_ssl5.md

Why: in LP-FT the head alone, on the frozen SimCLR trunk, reached a validation effusion AUC (0.772) above any epoch
of full fine-tuning. This asks the same question without the network's training loop, head or early stopping: the
trunk's global-average-pooled features (mean of the plain and the horizontally flipped image), standardised on the
development images, and an L2 logistic regression with balanced class weights whose C is chosen by 5-fold
patient-grouped cross-validation on the development images only. The test patients (the split of
``train_reference.py``: seed 0, 20%) are scored once, with the chosen C.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

REPO = Path(__file__).resolve().parents[1]
C_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)


def pooled_features(model, images: np.ndarray, pre, batch: int = 64) -> np.ndarray:
    """Mean over the plain and the flipped image of the trunk's global-average-pooled last feature map."""
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = pre.normalise(np.asarray(images[i:i + batch]))
            views = [model.feature_map(v).mean(dim=(2, 3)) for v in (x, torch.flip(x, dims=[-1]))]
            out.append(((views[0] + views[1]) / 2).numpy())
    return np.concatenate(out)


def probe(x_dev: np.ndarray, y: np.ndarray, groups: np.ndarray, x_test: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(chosen C, its cross-validated dev AUC, test probabilities); rows with an unknown label (NaN) are left out."""
    known = ~np.isnan(y)
    x_dev, y, groups = x_dev[known], y[known], groups[known]
    scores = {}
    for c in C_GRID:
        p = np.zeros(len(y))
        for tr, va in GroupKFold(5).split(x_dev, y, groups):
            clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(x_dev[tr], y[tr])
            p[va] = clf.predict_proba(x_dev[va])[:, 1]
        scores[c] = roc_auc_score(y, p)
    best = max(scores, key=scores.get)
    clf = LogisticRegression(C=best, max_iter=3000, class_weight="balanced").fit(x_dev, y)
    return best, scores[best], clf.predict_proba(x_test)[:, 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trunk", required=True, help="a checkpoint whose trunk is probed (its head is ignored)")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--out", required=True, help="the Markdown table to write")
    args = ap.parse_args()
    from chestxai.data.cache import cache_images
    from chestxai.data.confound import mask_confounded
    from chestxai.data.datasets import load_dataset
    from chestxai.data.preprocess import Preprocess
    from chestxai.data.split import holdout_split
    from chestxai.evaluate.classification import auc_ci
    from chestxai.models import load_checkpoint

    t0 = time.perf_counter()
    model = load_checkpoint(args.trunk).eval()
    findings = ["effusion", "pneumonia", "normal"]
    dev, test = holdout_split(load_dataset(args.data, findings=findings), 0.2, 0)
    dev, _ = mask_confounded(dev, ["pneumonia"])  # pneumonia learned and judged within source, as the shipped model
    pre = Preprocess(args.image_size)
    x_dev, x_test = (pooled_features(model, cache_images(d, pre).images, pre) for d in (dev, test))
    mu, sd = x_dev.mean(axis=0), x_dev.std(axis=0) + 1e-6
    x_dev, x_test = (x_dev - mu) / sd, (x_test - mu) / sd
    groups = dev.meta["patient_id"].astype(str).to_numpy()
    lines = ["# Linear probe of a frozen trunk", "",
             f"`python experiments/linear_probe.py {' '.join(sys.argv[1:])}`: {len(dev)} development / {len(test)} "
             f"test images, {args.image_size} px, features of dimension {x_dev.shape[1]}.", "",
             "| finding | C (chosen by grouped 5-fold CV on dev) | dev CV AUC | test AUC [95% CI] | test n (positives) |",
             "|---|---|---|---|---|"]
    for j, finding in enumerate(findings):
        c, cv_auc, p = probe(x_dev, dev.labels[:, j], groups, x_test)
        y, keep = test.labels[:, j], np.ones(len(test), bool)
        if finding == "pneumonia":  # within the source that holds the pneumonia positives
            keep = (test.meta["source"] == test.meta.loc[y == 1, "source"].mode()[0]).to_numpy()
        lo, hi = auc_ci(y[keep], p[keep])
        lines.append(f"| {finding}{' (within source)' if finding == 'pneumonia' else ''} | {c:g} | {cv_auc:.3f} | "
                     f"{roc_auc_score(y[keep], p[keep]):.3f} [{lo:.3f}-{hi:.3f}] | {keep.sum()} ({int(y[keep].sum())}) |")
    lines += ["", f"Wall {(time.perf_counter() - t0) / 60:.1f} min."]
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
