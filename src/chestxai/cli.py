"""The ``chestxai`` command: one sub-command per user task, thin (parse, call the library, print).

JSON goes to stdout, messages to stderr. A user error prints one line ``chestxai: error: ...`` and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from chestxai.errors import ChestXAIError


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="dataset folder or CSV (layout auto-detected)")
    p.add_argument("--format", choices=["chexpert", "nih", "folder", "csv", "dicom"], help="force the layout")
    p.add_argument("--uncertainty", default="ones", choices=["ones", "zeros", "ignore"],
                   help="CheXpert uncertain (-1) labels: ones (default, as the source study), zeros, ignore (masked)")
    p.add_argument("--all-views", action="store_true", help="keep lateral views (default: frontal only)")
    p.add_argument("--strict", action="store_true", help="fail on the first unreadable image instead of skipping it")


def build_parser() -> argparse.ArgumentParser:
    from chestxai import __version__
    from chestxai.models.registry import ARCHITECTURES, DEFAULT_ARCH

    parser = argparse.ArgumentParser(prog="chestxai", description="Explainable chest X-ray assistant")
    parser.add_argument("--version", action="version", version=f"chestxai {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a classifier (writes OUT/model.pt, metrics.json, curves)")
    _add_data_options(t)
    t.add_argument("--findings", required=True, help="comma-separated findings, e.g. effusion,pneumonia")
    t.add_argument("--arch", default=DEFAULT_ARCH, choices=list(ARCHITECTURES))
    t.add_argument("--pretrained", default="none", choices=["none", "imagenet"])
    t.add_argument("--image-size", type=int, default=224)
    t.add_argument("--epochs", type=int, default=25)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--val-fraction", type=float, default=0.15, help="patients held out for validation")
    t.add_argument("--augment", default="all",
                   help="all, none, or a comma list of flip,brightness,elastic,blur,rotate,affine,crop")
    t.add_argument("--pos-weight", action="store_true", help="weight positives by negatives/positives (capped)")
    t.add_argument("--ema-decay", type=float, default=0.99, help="weight averaging for selection; 0 disables")
    t.add_argument("--patience", type=int, default=10, help="early-stopping patience in epochs")
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--out", required=True, help="run folder")

    p = sub.add_parser("predict", help="print JSON probabilities per image")
    p.add_argument("--model", help="checkpoint path or shipped model name (default: the shipped default)")
    p.add_argument("images", nargs="+", metavar="IMAGE")

    e = sub.add_parser("evaluate", help="AUC with 95%% CI, accuracy, sensitivity/specificity, ROC and a table")
    e.add_argument("--model", help="checkpoint path or shipped model name")
    _add_data_options(e)
    e.add_argument("--split", help="evaluate only rows whose 'split' column has this value (e.g. test)")
    e.add_argument("--threshold", type=float, default=0.5)
    e.add_argument("--bootstrap", type=int, default=1000)
    e.add_argument("--out", required=True)
    return parser


def _load_data(args: argparse.Namespace, findings: list[str] | None = None):
    from chestxai.data.datasets import load_dataset

    return load_dataset(args.data, format=args.format, findings=findings, uncertainty=args.uncertainty,
                        frontal_only=not args.all_views)


def cmd_train(args: argparse.Namespace) -> int:
    from chestxai.data.findings import parse_findings
    from chestxai.train.augment import parse_augmentations
    from chestxai.train.fit import TrainConfig, fit

    findings = parse_findings(args.findings)
    config = TrainConfig(
        findings=findings, arch=args.arch, pretrained=args.pretrained, image_size=args.image_size,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, val_fraction=args.val_fraction,
        augment=parse_augmentations(args.augment), pos_weight=args.pos_weight, ema_decay=args.ema_decay,
        early_stop_patience=args.patience, strict=args.strict,
    )
    _check_train_config(config)
    metrics = fit(_load_data(args, findings), args.out, config, resume=args.resume, progress=not args.no_progress)
    print(json.dumps({"model": str(Path(args.out) / "model.pt"), "best": metrics["best"]}, indent=2))
    return 0


def _check_train_config(config) -> None:
    from chestxai.errors import ConfigError

    if config.epochs < 1 or config.batch_size < 1 or config.image_size < 16:
        raise ConfigError("--epochs and --batch-size must be >= 1 and --image-size >= 16")
    if not 0.0 < config.val_fraction < 1.0:
        raise ConfigError("--val-fraction must be between 0 and 1")


def cmd_predict(args: argparse.Namespace) -> int:
    from chestxai import load_model
    from chestxai.data.io import read_image

    model = load_model(args.model)
    results: dict[str, dict[str, float]] = {}
    failed = 0
    for path in args.images:
        try:
            results[path] = model.predict_dict([read_image(path)])[0]
        except ChestXAIError as exc:
            failed += 1
            print(f"chestxai: error: {exc}", file=sys.stderr)
    print(json.dumps(results, indent=2))
    return 1 if failed else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from chestxai import load_model
    from chestxai.errors import DataFormatError
    from chestxai.evaluate.report import evaluate_model

    model = load_model(args.model)
    data = _load_data(args)
    if args.split:
        if "split" not in data.meta.columns:
            raise DataFormatError(f"{args.data}: --split given but the data has no 'split' column")
        import numpy as np

        data = data.subset(np.flatnonzero(data.meta["split"].astype(str).to_numpy() == args.split))
    report = evaluate_model(model, data, args.out, threshold=args.threshold, n_boot=args.bootstrap)
    print(json.dumps(report, indent=2, default=float))
    print(f"wrote {Path(args.out) / 'metrics.json'} and metrics.md", file=sys.stderr)
    return 0


COMMANDS = {"train": cmd_train, "predict": cmd_predict, "evaluate": cmd_evaluate}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ChestXAIError as exc:
        print(f"chestxai: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chestxai: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
