"""Ship a trained run as a named model of the package: half-precision checkpoint, held-out sample, model card.

The sample is drawn from the same patient-level test split that ``release/train_reference.py`` held out (same
``--seed`` and ``--test-fraction``), so its images were never trained on or used for model selection. It is
downscaled and written into the package, and the card's "shipped sample" AUCs are computed on exactly those files
with the half-precision model: ``tests/models/test_shipped.py`` recomputes them.

    python release/ship_model.py --name nih-adult --run runs/reference --data ../shared/data \
        --results release/results/train_reference.json --sample nih --sample-size 256

Then ``python benchmarks/scope_check.py --apply`` adds the scope check's statistics to every shipped model.
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from chestxai.data.datasets import load_dataset
from chestxai.data.io import read_image
from chestxai.data.preprocess import Preprocess
from chestxai.data.split import holdout_rows
from chestxai.models.card import render_card, write_card
from chestxai.models.checkpoint import load_checkpoint, save_checkpoint
from chestxai.models.zoo import MODELS, SAMPLES
from chestxai.train.fit import invoking_command

from cards import auc_entry, examples, judged_within, sample_metrics  # release/cards.py

ATTRIBUTION = {
    "nih": (
        "# Sample cases: NIH ChestX-ray14\n\n"
        "Images from the NIH Clinical Center ChestX-ray14 (ChestX-ray8) dataset: Wang X, Peng Y, Lu L, Lu Z, "
        "Bagheri M, Summers RM. ChestX-ray8: Hospital-scale Chest X-ray Database and Benchmarks on Weakly-Supervised "
        "Classification and Localization of Common Thorax Diseases. CVPR 2017. NIH states the images may be used "
        "without restriction; we acknowledge the NIH Clinical Center as their source. Labels: NIH Data_Entry_2017 "
        "(NLP-mined from reports). Boxes: NIH BBox_List_2017 and ChestX-Det10 (Liu et al., arXiv:2006.10550). "
        "Changes: downscaled to {size} px, 8-bit grayscale PNG. These are patients of the held-out test split of "
        "the shipped model (never trained on).\n"
    ),
    "kermany": (
        "# Sample cases: paediatric chest X-rays (Kermany et al.)\n\n"
        "CC BY 4.0. Kermany D, Zhang K, Goldbaum M, Labeled Optical Coherence Tomography (OCT) and Chest X-Ray "
        "Images for Classification, Mendeley Data v2, doi:10.17632/rscbjbr9sj.2; Kermany DS et al., Cell "
        "172(5):1122-1131, 2018. Changes: resized to 224 x 224 by a third party (waliatushar/ai-pneumonia-detection), "
        "then to {size} px, grayscale PNG, subset. These are patients of the held-out test split of the shipped "
        "model (never trained on).\n"
    ),
}
DATA_TEXT = {
    "nih": (
        "948 frontal CXRs of 805 adult patients from NIH ChestX-ray14 (`../shared/data`, 384 px; NIH: use without "
        "restriction, cite Wang et al. CVPR 2017). Labels are NIH's NLP-mined report labels (effusion 119, "
        "pneumonia 359, no finding 247). Split by patient: 80% development (of which 15% of patients validate), "
        "20% test. Pneumonia positives come almost only from one of the two source repositories, so the honest "
        "pneumonia figure is the AUC within the source that has both classes (reported below)."
    ),
    "kermany": (
        "3,331 paediatric CXRs (age 1-5, Guangzhou) from the train split of Kermany et al. (`../shared/kermany`, "
        "224 px, CC BY 4.0): 1,340 normal, 1,991 pneumonia. Split by patient: 80% development (15% of patients "
        "validate), 20% test. The dataset's official test split is not available here, so the test figures below "
        "are on held-out patients of its train split."
    ),
}
LIMITS = {
    "nih": (
        "Research and teaching: shows how saliency maps and similar-case retrieval behave on a real model. Trained "
        "from scratch on under a thousand images, so its AUCs are far below clinical systems (source study: 0.91 "
        "effusion with ImageNet weights and ~200k images) and its intervals are wide. Adults, frontal views, NIH "
        "acquisition; other hospitals, lateral views, children, portable-film artefacts are out of scope. Labels are "
        "report-mined and noisy. Probabilities are not calibrated for a different prevalence. Its pneumonia output "
        "learned pneumonia against *no finding* within one source: on a radiograph with other findings (effusion, "
        "infiltrates, atelectasis) it tends to read pneumonia too, so judge it next to the other outputs."
    ),
    "kermany": (
        "Research and teaching: paediatric frontal CXRs, one hospital. Not validated on adults (use `nih-adult`), "
        "other hospitals, or other findings; it only separates normal from pneumonia (bacterial or viral)."
    ),
}
LABEL_COLUMNS = ("image", "source", "patient_id", "view", "other_findings")


def held_out(data_dir: str, findings: list[str], seed: int, test_fraction: float, max_images: int | None):
    """The test split of ``train_reference.py`` (optionally a class-stratified subset of it)."""
    data = load_dataset(data_dir, findings=findings)
    _, rows = holdout_rows(data.meta, test_fraction, seed, data.labels)
    if max_images and len(rows) > max_images:
        rng = np.random.default_rng(seed)
        first = np.nan_to_num(data.labels[rows, 0], nan=-1)
        keep = []
        for value in np.unique(first):
            group = rows[first == value]
            share = max(1, round(max_images * len(group) / len(rows)))
            keep.extend(rng.choice(group, size=min(share, len(group)), replace=False).tolist())
        rows = np.array(sorted(keep))
    return data.subset(rows)


def write_sample(dataset, out: Path, size: int, attribution: str) -> None:
    """Downscaled images + labels.csv + boxes.csv (boxes rescaled) in the layout ``--data`` reads."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows, boxes = [], []
    for i, path in enumerate(dataset.meta["path"].astype(str)):
        pixels = read_image(path)
        scale_x, scale_y = size / pixels.shape[1], size / pixels.shape[0]
        name = f"images/{Path(path).stem}.png"
        Image.fromarray(Preprocess(size).resize_uint8(pixels)).save(out / name, optimize=True)
        meta = dataset.meta.iloc[i]
        row = {c: meta.get(c, "") for c in LABEL_COLUMNS}
        row["image"] = name
        for j, finding in enumerate(dataset.findings):
            value = dataset.labels[i, j]
            row[finding] = "" if np.isnan(value) else int(value)
        rows.append(row)
        for _, b in dataset.boxes[dataset.boxes["path"] == path].iterrows():
            boxes.append({"image": name, "finding": b["finding"], "x": round(b["x"] * scale_x, 2),
                          "y": round(b["y"] * scale_y, 2), "w": round(b["w"] * scale_x, 2),
                          "h": round(b["h"] * scale_y, 2)})
    pd.DataFrame(rows).to_csv(out / "labels.csv", index=False)
    pd.DataFrame(boxes, columns=["image", "finding", "x", "y", "w", "h"]).to_csv(out / "boxes.csv", index=False)
    (out / "ATTRIBUTION.md").write_text(attribution.format(size=size))


def youden_thresholds(run: Path, findings: list[str]) -> dict[str, float]:
    """Per finding, the validation threshold maximising sensitivity + specificity (the page's decision line)."""
    from sklearn.metrics import roc_curve

    saved = np.load(run / "val_predictions.npz")
    out = {}
    for j, finding in enumerate(findings):
        y, p = saved["labels"][:, j], saved["probs"][:, j]
        known = ~np.isnan(y)
        fpr, tpr, thr = roc_curve(y[known], p[known])
        out[finding] = float(np.clip(thr[int(np.argmax(tpr - fpr))], 0.0, 1.0))
    return out


def test_auc(report: dict[str, Any]) -> dict[str, Any]:
    """The test report's AUCs per finding, with the AUC within each source that :func:`judged_within` admits."""
    def entry(r: dict[str, Any]) -> dict[str, Any]:
        return {"auc": r["auc"], "ci": r["auc_ci"], "n": r["n"], "positives": r["positives"]}

    out = {}
    for finding, r in report.items():
        out[finding] = entry(r)
        for source, g in r.get("by_source", {}).items():
            if judged_within(len(r["by_source"]), g["positives"], g["n"] - g["positives"]):
                out[finding].setdefault("within_source", {})[source] = entry(g)
    return out


def pretraining(init: str | None) -> dict[str, Any] | None:
    """How the ``--init`` trunk was made, when ``release/pretrain_ssl.py`` made it (its ``ssl.json`` beside it):
    totals over the run and the runs it resumed, and the commands that repeat the recipe on any machine (by
    ``--steps``, not by a wall-time budget), first run first."""
    summary = Path(init).with_name("ssl.json") if init else None
    if summary is None or not summary.exists():
        return None
    stages, info = [], json.loads(summary.read_text())
    while info is not None:
        stages.insert(0, info)
        info = (info.get("resumed_from") or {}).get("summary")
    return {"commands": [stage_command(st) for st in stages], "images": stages[-1]["images"],
            "steps": sum(st["steps"] for st in stages), "epochs": sum(st["epochs"] for st in stages),
            "minutes": sum(st["minutes"] for st in stages), "loss": [stages[0]["loss_first10"], stages[-1]["loss_last10"]]}


def stage_command(info: dict[str, Any]) -> str:
    """One pretraining run's command, rebuilt from its arguments with ``--steps`` in place of its wall-time budget
    (a recorded command may say ``--minutes``, which repeats differently on another machine)."""
    flags = {k: v for k, v in info["args"].items() if k not in ("minutes", "steps") and v is not None}
    argv = ["release/pretrain_ssl.py", *[w for k, v in flags.items() for w in (f"--{k.replace('_', '-')}", str(v))],
            "--steps", str(info["steps"])]
    return invoking_command(argv)


def validation_auc(run: Path, findings: list[str]) -> dict[str, Any]:
    saved = np.load(run / "val_predictions.npz")
    return {f: auc_entry(saved["labels"][:, j], saved["probs"][:, j]) for j, f in enumerate(findings)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--title", required=True)
    ap.add_argument("--run", required=True, help="training run folder (model.pt, metrics.json, val_predictions.npz)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--results", help="train_reference.py JSON with the test evaluation")
    ap.add_argument("--sample", required=True, choices=sorted(ATTRIBUTION))
    ap.add_argument("--sample-size", type=int, default=256)
    ap.add_argument("--sample-max", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-fraction", type=float, default=0.2)
    args = ap.parse_args()

    run = Path(args.run)
    model = load_checkpoint(run / "model.pt")
    metrics = json.loads((run / "metrics.json").read_text())
    thresholds = youden_thresholds(run, model.findings)
    out = MODELS / args.name
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, out / "model.pt", metrics=model.checkpoint_meta.get("metrics"), half=True,
                    extra={"config": model.checkpoint_meta.get("config"), "thresholds": thresholds})
    shipped = load_checkpoint(out / "model.pt")

    sample_dir = SAMPLES / args.sample
    test = held_out(args.data, model.findings, args.seed, args.test_fraction, args.sample_max)
    write_sample(test, sample_dir, args.sample_size, ATTRIBUTION[args.sample])
    sample_auc, probs, sample_data = sample_metrics(shipped, sample_dir)
    results = json.loads(Path(args.results).read_text()) if args.results else {}
    card = {
        "name": args.name, "title": args.title, "arch": model.arch, "image_size": model.preprocess.image_size,
        "findings": model.findings, "thresholds": thresholds, "sample": args.sample,
        "logit_shift": model.checkpoint_meta.get("logit_shift", {}),
        "init": metrics["config"].get("init"), "pretraining": pretraining(metrics["config"].get("init")),
        "size_mb": (out / "model.pt").stat().st_size / 2**20,
        "command": invoking_command(shlex.split(metrics["config"]["command"])), "ship_command": invoking_command(),
        "best_epoch": metrics["best"]["epoch"],
        "train_minutes": sum(h["seconds"] for h in metrics["history"]) / 60,
        "validation": validation_auc(run, model.findings),
        "test": test_auc(results.get("test", {})),
        "within_source": list(metrics["config"].get("within_source") or []),
        "sample_auc": sample_auc,
        "examples": examples(sample_data, probs, model.findings, thresholds),
        "data": DATA_TEXT[args.sample], "limits": LIMITS[args.sample],
    }
    write_card(out, card)
    print(render_card(card))


if __name__ == "__main__":
    main()
