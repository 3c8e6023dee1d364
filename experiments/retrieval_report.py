"""Similar-case retrieval on ../shared/data: build a catalogue, run the paper's evaluation, keep the table.

    python experiments/retrieval_report.py [--model nih-adult] [--igcbir-model CKPT | --train-igcbir DIR] \
        [--igcbir-target top] [--igcbir-epochs 5] [--data ../shared/data] [--finding effusion] \
        [--out experiments/results/retrieval_report]

Writes ``OUT/retrieval_report.md`` (the command, the model, the catalogue build, the IG-CBIR training, the evaluation
table) and ``OUT/retrieval_report/`` (summary.csv, summary.md, summary.json, examples.png). Methods: ssim and cnn,
plus igcbir when ``--igcbir-model`` (from ``chestxai train-igcbir``) or ``--train-igcbir DIR`` is given.

Held-out queries: the default model was trained on the dev part of a patient-level split of this folder (seed 0, 20%
of patients held out, as ``release/train_reference.py``). A network ranks images of patients it was trained on by
what it memorised, so only the held-out patients' images are queries; the catalogue pool is the dev patients' images
(a hospital's catalogue holds the cases its model learnt from). ``--train-igcbir`` fine-tunes IG-CBIR's network on
the dev images' saliency maps only (its own validation split inside dev is the classifier's).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
Log = Callable[[str], None]


def build_catalogue(model, data, root: Path) -> dict:
    """Index every image with the cnn embedder; time it and check a self-search ranks the image first."""
    from chestxai.retrieval.catalogue import Catalogue
    from chestxai.retrieval.embedders import CNNEmbedder

    embedder = CNNEmbedder(model)
    with Catalogue(root) as cat:
        t0 = time.perf_counter()
        report = cat.add_dataset(data, embedder)
        seconds = time.perf_counter() - t0
        again = cat.add_dataset(data, embedder)
        query = data[0]["image"]
        top = cat.search(query, embedder, k=1)[0]
        return {"added": report.added, "unreadable": len(report.errors), "seconds": seconds,
                "reindex_added": again.added, "self_hit": top[0].image == data.paths[0], "self_score": top[1],
                "info": cat.info()}


def same_as_shipped_test(test, model_name: str, log: Log) -> bool | None:
    """Whether ``test`` holds exactly the images of the shipped model's held-out sample, i.e. its test patients
    (None when ``model_name`` is a checkpoint path, which has no sample)."""
    import pandas as pd

    from chestxai.models.zoo import sample_folder, shipped_models

    if model_name not in shipped_models():
        return None
    shipped = {Path(p).name for p in pd.read_csv(sample_folder(model_name) / "labels.csv")["image"]}
    same = shipped == {Path(p).name for p in test.paths}
    log(f"held-out split equals {model_name}'s held-out sample: {same}")
    return same


CAM_METHODS = ("gradcam", "gradcampp")


def empty_map_share(model, dataset, target: str | None, method: str = "gradcam") -> float:
    """Share of ``dataset``'s images whose ``method`` map for ``target`` is all zero (Grad-CAM's ReLU removes a map
    whose evidence is all negative). Many empty maps would collapse IG-CBIR's embedding to one point, so the report says
    why the target it uses was chosen."""
    from chestxai.data.cache import cache_images
    from chestxai.retrieval.embedders import explain_saliency, saliency_maps_uint8

    cached = cache_images(dataset, model.preprocess)
    images = list(np.asarray(cached.images[cached.valid]))
    maps = saliency_maps_uint8(model, images, explain_saliency(method, target), model.preprocess)
    return float(np.mean(maps.reshape(len(maps), -1).max(axis=1) == 0))


def empty_map_text(empty: dict[str, float], target: str | None, method: str = "gradcam") -> str:
    """Why IG-CBIR embeds the saliency maps it does, from the measured share of all-zero maps."""
    parts = [f"{finding} {share:.0%}" for finding, share in empty.items()]
    used = f"the {target} output's maps" if target else "the map of each image's most probable finding"
    return (f"Share of dev images whose {method} map is all zero (no positive evidence for that output): "
            f"{', '.join(parts)}. All-zero maps give one and the same embedding, so IG-CBIR here embeds {used}.")


def has_provenance(path: Path) -> bool:
    """A finished ``train_igcbir`` run: its model.pt carries the IG-CBIR provenance (written after training)."""
    from chestxai.models.checkpoint import read_checkpoint

    return path.is_file() and "igcbir" in read_checkpoint(path)["meta"]


def saliency_of(path: str | Path) -> str:
    """The saliency method an IG-CBIR network was fine-tuned on (its recorded provenance)."""
    from chestxai.models.checkpoint import read_checkpoint

    return read_checkpoint(path)["meta"].get("igcbir", {}).get("saliency", "gradcam")


def train_or_load_igcbir(model, dev, out_dir: Path, method: str, target: str | None, epochs: int, lr: float,
                         log: Log) -> dict[str, Any]:
    """Fine-tune IG-CBIR's network on the dev images (resuming an interrupted run), or reuse a finished one."""
    from chestxai.train.igcbir import train_igcbir

    ckpt = out_dir / "model.pt"
    wall = None
    if not has_provenance(ckpt):
        t0 = time.perf_counter()
        train_igcbir(model, dev, out_dir, method=method, target=target, resume=True, progress=False, log=log,
                     epochs=epochs, lr=lr)
        wall = time.perf_counter() - t0
    else:
        used = saliency_of(ckpt)
        if used != method:
            raise SystemExit(f"{ckpt} was fine-tuned on {used} maps, not {method}: pass another --train-igcbir DIR")
        log(f"reusing the finished IG-CBIR network {ckpt}")
    metrics = json.loads((out_dir / "metrics.json").read_text())
    return {"path": ckpt, "wall_s": wall, "metrics": metrics}


def igcbir_text(trained: dict[str, Any], target: str | None, n_dev: int) -> str:
    """One paragraph on how the IG-CBIR network was made and how well it classifies saliency maps."""
    history = trained["metrics"].get("history", [])
    best = max(history, key=lambda h: h["score"]) if history else {}
    epoch_s = sum(h["seconds"] for h in history)
    aucs = ", ".join(f"{k} {v:.3f}" for k, v in best.get("val_auc", {}).items())
    wall = f"{trained['wall_s'] / 60:.1f} min wall in this run" if trained["wall_s"] else "trained in an earlier run"
    path = trained["path"]
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    method = saliency_of(path)
    return (f"IG-CBIR network: `{shown}`, a copy of the classifier fine-tuned on {method} maps of "
            f"{'the ' + target + ' output' if target else 'each image' + chr(39) + 's most probable finding'} "
            f"of the {n_dev} dev images (same labels, same train/validation patients as the classifier), "
            f"{len(history)} of {trained['metrics']['config']['epochs']} epochs run, lr "
            f"{trained['metrics']['config']['lr']}, 1 torch thread, {epoch_s / 60:.1f} min in epochs ({wall}); "
            f"best epoch {best.get('epoch', '?')}: validation AUC of the network on saliency maps {aucs}.")


def verdict(summary, methods: list[str]) -> str:
    """Each method's precision minus chance, averaged over the three settings (all queries, then positive ones only),
    and IG-CBIR against CNN: the question the run is for is whether any method ranks above chance here."""
    from chestxai.evaluate.retrieval import SETTINGS, chance_level

    def lift(method: str, metric: str) -> float:
        rows = summary[(summary.method == method) & (summary.metric == metric)].set_index("setting")
        return float(np.mean([rows.loc[s, "mean"] - chance_level(s) for s in SETTINGS if s in rows.index]))

    parts = [f"{m} {lift(m, 'precision'):+.3f} ({lift(m, 'precision_pos'):+.3f} on positive queries)"
             for m in methods]
    text = ("Precision minus chance, averaged over the three settings: " + ", ".join(parts) + ".")
    if "igcbir" in methods and "cnn" in methods:
        diff = lift("igcbir", "precision") - lift("cnn", "precision")
        diff_pos = lift("igcbir", "precision_pos") - lift("cnn", "precision_pos")
        text += (f" IG-CBIR minus CNN: {diff:+.3f} over all queries, {diff_pos:+.3f} over positive ones; "
                 f"the seeds' [min, max] ranges in the table show how much of that is noise.")
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="nih-adult", help="checkpoint path or shipped model name")
    ap.add_argument("--igcbir-model", help="a finished `chestxai train-igcbir` network")
    ap.add_argument("--train-igcbir", metavar="DIR", help="fine-tune the IG-CBIR network on the dev split into DIR "
                    "(resumes an interrupted run, reuses a finished one)")
    ap.add_argument("--igcbir-target", default="top",
                    help="finding whose saliency map is embedded ('top' = each image's most probable)")
    ap.add_argument("--igcbir-method", default="gradcam",
                    help="saliency method whose maps IG-CBIR embeds (with --train-igcbir)")
    ap.add_argument("--igcbir-epochs", type=int, default=5)
    ap.add_argument("--igcbir-lr", type=float, default=1e-4)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--finding", default="effusion")
    ap.add_argument("--split-seed", type=int, default=0, help="seed of the model's dev/test patient split")
    ap.add_argument("--holdout-fraction", type=float, default=0.2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(REPO / "experiments" / "results" / "retrieval_report"))
    args = ap.parse_args()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    torch.set_num_threads(args.threads)

    from chestxai import load_model
    from chestxai.data.datasets import load_dataset
    from chestxai.data.split import holdout_split
    from chestxai.evaluate.retrieval import evaluate_retrieval, summary_body
    from chestxai.models.checkpoint import load_checkpoint
    from chestxai.retrieval.embedders import CNNEmbedder, SSIMScorer, build_embedder

    model = load_model(args.model)
    data = load_dataset(args.data, findings=list(model.findings))
    dev, test = holdout_split(data, args.holdout_fraction, args.split_seed)
    matches_reference = same_as_shipped_test(test, args.model, log)
    with tempfile.TemporaryDirectory() as tmp:
        built = build_catalogue(model, data, Path(tmp) / "catalogue")
    log(f"catalogue: {built}")
    methods = {"ssim": SSIMScorer(), "cnn": CNNEmbedder(model)}
    target = None if args.igcbir_target == "top" else args.igcbir_target
    method = saliency_of(args.igcbir_model) if args.igcbir_model else args.igcbir_method
    trained = None
    empty = {}
    if (args.train_igcbir or args.igcbir_model) and method in CAM_METHODS:  # a CAM's ReLU can empty a map
        for finding in dict.fromkeys([args.finding, target]):
            name = finding or "each image's most probable finding"
            empty[name] = empty_map_share(model, dev, finding, method)
            log(f"{method} map of {name}: all zero on {empty[name]:.0%} of the dev images")
    if args.train_igcbir:
        trained = train_or_load_igcbir(model, dev, Path(args.train_igcbir).resolve(), method, target,
                                       args.igcbir_epochs, args.igcbir_lr, log)
        methods["igcbir"] = build_embedder("igcbir", model, load_checkpoint(trained["path"]))
    elif args.igcbir_model:
        methods["igcbir"] = build_embedder("igcbir", model, load_checkpoint(args.igcbir_model))
    out = Path(args.out)
    query_patients = set(test.meta["patient_id"].astype(str))
    t0 = time.perf_counter()
    summary = evaluate_retrieval(data, args.finding, methods, out / "retrieval_report", model.preprocess, log=log,
                                 query_patients=query_patients, command=" ".join(sys.argv))
    log(f"evaluation took {time.perf_counter() - t0:.0f} s")
    meta = model.checkpoint_meta
    best = meta.get("metrics", {})
    command = ("python experiments/retrieval_report.py " + " ".join(sys.argv[1:])).strip()
    info = json.loads((out / "retrieval_report" / "summary.json").read_text())
    info["command"] = command
    info["igcbir_target"] = args.igcbir_target if "igcbir" in methods else None
    (out / "retrieval_report" / "summary.json").write_text(json.dumps(info, indent=2, default=float))
    lines = [
        "# Similar-case retrieval on ../shared/data", "",
        f"Command: `{command}`", "",
        f"Model: `{args.model}` ({meta['arch']}, {model.preprocess.image_size} px, findings "
        f"{', '.join(model.findings)}; checkpoint of epoch {best.get('epoch', '?')}, validation AUC "
        + ", ".join(f"{k} {v:.3f}" for k, v in best.get("val_auc", {}).items()) + "). It was trained on the dev "
        f"patients of a patient-level split (seed {args.split_seed}, {args.holdout_fraction:.0%} held out: "
        f"{len(dev)} dev / {len(test)} held-out images; same as the shipped model's held-out sample: "
        f"{matches_reference}); only held-out patients are queries below.", "",
        f"Catalogue (cnn, flat): {built['added']} cases indexed in {built['seconds']:.1f} s "
        f"({built['added'] / built['seconds']:.1f} images/s), {built['unreadable']} unreadable; re-indexing added "
        f"{built['reindex_added']}; an image searched for itself comes first: {built['self_hit']} "
        f"(score {built['self_score']:.3f}).", "",
    ]
    if trained:
        lines += [igcbir_text(trained, target, len(dev)), ""]
    if empty:
        lines += [empty_map_text(empty, target, method), ""]
    lines += [verdict(summary, list(methods)), ""]
    lines.append(summary_body(summary, {**info, "figure": "retrieval_report/examples.png"}))
    (out / "retrieval_report.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
