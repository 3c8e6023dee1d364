"""Are the reported probabilities honest? Calibration of a model on its held-out test patients.

A loss that weights positives by ``w`` (``--pos-weight``, ``w`` = negatives / positives of the training split,
capped to [1, 10]) multiplies the odds the network learns by ``w``: on a finding with 12% prevalence it reports
about 40% on the average radiograph. Three readings of the same network are compared on the test patients:

- ``raw``: the network's own sigmoid;
- ``prior``: the logit shifted by ``-log w`` (no fitting: the exact inverse of the weighting; what ``chestxai
  train`` now stores in every ``--pos-weight`` checkpoint);
- ``platt``: ``sigmoid(a * logit + b)`` fitted per finding on the validation patients (113 images here), the usual
  post-hoc recalibration, for comparison.

Metrics per finding (pneumonia within the source where it varies, as everywhere): mean probability against the
prevalence, expected calibration error (10 equal-width bins, weighted mean |mean p - observed rate|), Brier score,
log loss, each with a 95% bootstrap interval over test images. AUC is the same for all three (monotone maps).

    python release/calibration.py [--model nih-adult] [--data ../shared/data] [--apply]

``--apply`` writes the ``prior`` shift into the shipped model's checkpoint metadata (weights untouched), maps its
decision thresholds through the same shift (every decision stays the same) and rewrites its card: for a model shipped
before training stored the shift itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize

REPO = Path(__file__).resolve().parents[1]
N_BINS = 10


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def ece(y: np.ndarray, p: np.ndarray, bins: int = N_BINS) -> float:
    """Expected calibration error: sum over equal-width bins of (share of images) * |mean p - positive rate|."""
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    return float(sum((idx == b).mean() * abs(p[idx == b].mean() - y[idx == b].mean())
                     for b in range(bins) if (idx == b).any()))


METRICS = {"mean_p": lambda y, p: float(p.mean()), "ece": ece, "brier": lambda y, p: float(np.mean((p - y) ** 2)),
           "log_loss": log_loss}


def scores(y: np.ndarray, p: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Each metric with its 95% bootstrap interval over images."""
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(y), len(y)) for _ in range(n_boot)]
    out: dict[str, Any] = {"n": int(len(y)), "prevalence": float(y.mean())}
    for name, fn in METRICS.items():
        boot = [fn(y[i], p[i]) for i in draws]
        out[name] = {"value": fn(y, p), "ci": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]}
    return out


def platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(a, b)`` minimising the log loss of ``sigmoid(a z + b)`` (a > 0, so the order of images is kept)."""
    fit = minimize(lambda w: log_loss(y, sigmoid(w[0] * z + w[1])), [1.0, 0.0], method="L-BFGS-B",
                   bounds=[(1e-3, None), (None, None)])
    return float(fit.x[0]), float(fit.x[1])


def prior_shift(dev, config: dict[str, Any], findings: list[str]) -> dict[str, float]:
    """``-log w`` per finding, ``w`` the positive weight the training run used on its own training split."""
    from chestxai.train.fit import split_for_training
    from chestxai.train.losses import positive_weights

    if not config.get("pos_weight"):
        return {f: 0.0 for f in findings}
    train_idx, _ = split_for_training(dev, config["val_fraction"], config["seed"])
    w = positive_weights(dev.labels[train_idx]).numpy()
    return {f: float(0.0 - np.log(w[j])) for j, f in enumerate(findings)}  # 0.0 - : no "-0.00" for w = 1


def parts(model, data_dir: str, split_seed: int, holdout: float):
    """The model's validation and test patients, labels masked as its training masked them (within source)."""
    from chestxai.data.confound import mask_confounded
    from chestxai.data.datasets import load_dataset
    from chestxai.data.split import holdout_split
    from chestxai.train.fit import split_for_training

    config = model.checkpoint_meta.get("config", {})
    findings = list(model.findings)
    dev, test = holdout_split(load_dataset(data_dir, findings=findings).select(findings), holdout, split_seed)
    within = list(config.get("within_source") or [])
    if within:
        dev, _ = mask_confounded(dev, within)
        test, _ = mask_confounded(test, within)
    _, val_idx = split_for_training(dev, config.get("val_fraction", 0.15), config.get("seed", 0))
    return dev, dev.subset(val_idx), test, config


def raw_probabilities(model, dataset) -> np.ndarray:
    """The network's own sigmoid on every image of ``dataset`` (no logit shift)."""
    from chestxai.data.cache import cache_images

    cached = cache_images(dataset, model.preprocess)
    if not cached.valid.all():
        raise SystemExit(f"unreadable images: {cached.errors}")
    x = model.preprocess.normalise(np.asarray(cached.images))
    return model.predict_tensor(torch.as_tensor(x), shifted=False)


def measure(model, data_dir: str, split_seed: int, holdout: float) -> dict[str, Any]:
    """Per finding: the shifts and fits, and the test metrics of raw, prior and platt probabilities."""
    from chestxai.evaluate.classification import auc

    dev, val, test, config = parts(model, data_dir, split_seed, holdout)
    findings = list(model.findings)
    shift = prior_shift(dev, config, findings)
    pv, pt = raw_probabilities(model, val), raw_probabilities(model, test)
    result: dict[str, Any] = {"logit_shift": shift, "findings": {}}
    for j, f in enumerate(findings):
        kv, kt = ~np.isnan(val.labels[:, j]), ~np.isnan(test.labels[:, j])
        yv, zv = val.labels[kv, j], logit(pv[kv, j])
        yt, zt = test.labels[kt, j], logit(pt[kt, j])
        a, b = platt(zv, yv)
        result["findings"][f] = {
            "auc": auc(yt, pt[kt, j]), "platt": [a, b], "n_val": int(kv.sum()),
            "raw": scores(yt, sigmoid(zt)), "prior": scores(yt, sigmoid(zt + shift[f])),
            "platt_fit": scores(yt, sigmoid(a * zt + b)),
            "curves": {name: reliability(yt, sigmoid(z)) for name, z in
                       (("raw", zt), ("prior", zt + shift[f]), ("platt", a * zt + b))},
        }
    return result


def reliability(y: np.ndarray, p: np.ndarray) -> list[list[float]]:
    """``[mean p, positive rate, count]`` of each non-empty bin (the reliability diagram's points)."""
    idx = np.clip((p * N_BINS).astype(int), 0, N_BINS - 1)
    return [[float(p[idx == b].mean()), float(y[idx == b].mean()), int((idx == b).sum())]
            for b in range(N_BINS) if (idx == b).any()]


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    findings = list(result["findings"])
    fig, axes = plt.subplots(1, len(findings), figsize=(4 * len(findings), 4), squeeze=False)
    for ax, f in zip(axes[0], findings):
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        for name, style in (("raw", "o-"), ("prior", "s-"), ("platt", "^:")):
            pts = np.array(result["findings"][f]["curves"][name])
            ax.plot(pts[:, 0], pts[:, 1], style, label=name, ms=4)
        ax.set(title=f, xlabel="mean predicted probability (bin)", ylabel="observed positive rate", xlim=(0, 1),
               ylim=(0, 1))
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fmt(entry: dict[str, Any]) -> str:
    return f"{entry['value']:.3f} [{entry['ci'][0]:.3f}, {entry['ci'][1]:.3f}]"


def table(result: dict[str, Any]) -> list[str]:
    lines = ["| finding | reading | mean p (prevalence) | ECE (lower) | Brier (lower) | log loss (lower) |",
             "|---|---|---|---|---|---|"]
    for f, r in result["findings"].items():
        for name, key in (("raw sigmoid", "raw"), (f"prior shift {result['logit_shift'][f]:+.2f}", "prior"),
                          (f"Platt on validation (a {r['platt'][0]:.2f}, b {r['platt'][1]:+.2f})", "platt_fit")):
            s = r[key]
            lines.append(f"| {f} | {name} | {s['mean_p']['value']:.3f} ({s['prevalence']:.3f}) | {fmt(s['ece'])} | "
                         f"{fmt(s['brier'])} | {fmt(s['log_loss'])} |")
    return lines


def apply_shift(name: str, result: dict[str, Any]) -> None:
    """Write the prior shift into shipped model ``name`` (metadata only) and rewrite its thresholds and card."""
    from cards import examples, sample_metrics  # release/cards.py, this script's neighbour

    from chestxai.models.card import read_card, write_card

    from chestxai.models.checkpoint import atomic_torch_save, load_checkpoint, read_checkpoint
    from chestxai.models.zoo import MODELS, shipped_models

    path = shipped_models()[name]
    payload = read_checkpoint(path)
    meta = payload["meta"]
    if meta.get("logit_shift"):
        raise SystemExit(f"{path} already carries a logit shift: {meta['logit_shift']}")
    shift = result["logit_shift"]
    meta["logit_shift"] = shift
    meta["thresholds"] = {f: float(sigmoid(logit(np.float64(t)) + shift[f])) for f, t in meta["thresholds"].items()}
    atomic_torch_save(payload, path)

    card = read_card(MODELS / name)
    shipped = load_checkpoint(path)
    sample_auc, probs, sample_data = sample_metrics(shipped, MODELS.parent / "samples" / card["sample"])
    card.update(thresholds=meta["thresholds"], sample_auc=sample_auc, logit_shift=shift,
                examples=examples(sample_data, probs, shipped.findings, meta["thresholds"]),
                calibration={f: {k: r[k] for k in ("raw", "prior")} for f, r in result["findings"].items()})
    write_card(MODELS / name, card)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="nih-adult", help="checkpoint path or shipped model name")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--split-seed", type=int, default=0, help="seed of the model's dev/test patient split")
    ap.add_argument("--holdout-fraction", type=float, default=0.2)
    ap.add_argument("--apply", action="store_true", help="write the prior shift into the shipped model --model")
    ap.add_argument("--out", default=str(REPO / "release" / "results"))
    args = ap.parse_args()
    torch.set_num_threads(1)

    from chestxai import load_model

    model = load_model(args.model)
    result = measure(model, args.data, args.split_seed, args.holdout_fraction)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(result, out / "calibration.png")
    (out / "calibration.json").write_text(json.dumps(result, indent=2))
    command = ("python release/calibration.py " + " ".join(sys.argv[1:])).strip()
    lines = ["# Calibration of the reported probabilities on held-out test patients", "",
             f"Command: `{command}` — model `{args.model}`; test patients of the split seed {args.split_seed} "
             f"({args.holdout_fraction:.0%} held out), pneumonia within the source where it varies. Mean [95% "
             f"bootstrap interval] over test images; ECE over {N_BINS} equal-width bins. AUC (unchanged by all "
             "three): " + ", ".join(f"{f} {r['auc']:.3f}" for f, r in result["findings"].items()) + ".", "",
             *table(result), "", "![reliability diagrams](calibration.png)", ""]
    (out / "calibration.md").write_text("\n".join(lines))
    print("\n".join(lines))
    if args.apply:
        apply_shift(args.model, result)
        print(f"applied: logit shift {result['logit_shift']} written into the shipped model {args.model}")


if __name__ == "__main__":
    main()
