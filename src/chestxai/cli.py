"""The ``chestxai`` command: one sub-command per user task, thin (parse, call the library, print).

JSON goes to stdout, messages to stderr. A user error prints one line ``chestxai: error: ...`` and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from chestxai.errors import ChestXAIError, ConfigError


# Commands that run the model on a few images: one intra-op thread unless told otherwise. On a machine whose cores
# are busy, a second thread waits for a core at every layer: one `predict` took 4.5 s with 2 threads against 0.04 s
# with 1 (issue 28; `benchmarks/thread_load.py` measures it on yours).
ONE_IMAGE_COMMANDS = ("predict", "check-scope", "explain", "demo", "search")


def _add_threads_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, metavar="N",
                   help="torch intra-op threads (default: $OMP_NUM_THREADS if set, else 1, the fastest for one "
                        "image on a busy machine)")


def apply_threads(command: str, threads: int | None) -> int | None:
    """Set torch's intra-op threads for ``command``: ``--threads``, else ``$OMP_NUM_THREADS`` (torch reads it
    itself), else 1 for the one-image commands; other commands keep torch's default. The number set, or None."""
    if threads is not None and threads < 1:
        raise ConfigError("--threads must be >= 1")
    if threads is None and (os.environ.get("OMP_NUM_THREADS") or command not in ONE_IMAGE_COMMANDS):
        return None
    import torch

    torch.set_num_threads(threads or 1)
    return threads or 1


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
    t.add_argument("--seed", type=int, default=0, help="seed of the validation split (and of the draws, unless --run-seed)")
    t.add_argument("--run-seed", type=int, metavar="N",
                   help="seed of head init, shuffling and augmentation only: the same split, another draw")
    t.add_argument("--val-fraction", type=float, default=0.15, help="patients held out for validation")
    t.add_argument("--augment", default="all",
                   help="all, none, or a comma list of flip,brightness,elastic,blur,rotate,affine,crop")
    t.add_argument("--pos-weight", action="store_true", help="weight positives by negatives/positives (capped)")
    t.add_argument("--within-source", default="", metavar="FINDINGS",
                   help="findings to learn only within the sources where they vary: their label is ignored on "
                        "images of a source (column 'source') with under 10%% or over 90%% positives")
    t.add_argument("--ema-decay", type=float, default=0.99, help="weight averaging for selection; 0 disables")
    t.add_argument("--patience", type=int, default=10, help="early-stopping patience in epochs")
    t.add_argument("--init", metavar="CKPT", help="start the trunk from this checkpoint (same --arch; new head)")
    t.add_argument("--head-epochs", type=int, default=0, metavar="N",
                   help="LP-FT: train only the head for the first N epochs (trunk frozen), then everything")
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--nproc", type=int, default=1,
                   help="data-parallel processes on this machine (DDP: gloo on CPU, NCCL on GPUs); "
                        "or start under `torchrun --nproc-per-node N -m chestxai train ...`")
    t.add_argument("--out", required=True, help="run folder")

    p = sub.add_parser("predict", help="print JSON probabilities per image")
    p.add_argument("--model", help="checkpoint path or shipped model name (default: the shipped default)")
    _add_threads_option(p)
    p.add_argument("images", nargs="+", metavar="IMAGE")

    c = sub.add_parser("check-scope", help="judge images before predicting: in_scope, outside_population (another "
                                           "population, e.g. a child for an adult model) or not_a_chest_radiograph")
    c.add_argument("--model", help="checkpoint path or shipped model name (default: the shipped default)")
    c.add_argument("--json", action="store_true", help='print {IMAGE: {"scope", "score", "reason"}}')
    _add_threads_option(c)
    c.add_argument("images", nargs="+", metavar="IMAGE")

    e = sub.add_parser("evaluate", help="AUC with 95%% CI, accuracy, sensitivity/specificity, ROC and a table")
    e.add_argument("--model", help="checkpoint path or shipped model name")
    _add_data_options(e)
    e.add_argument("--split", help="evaluate only rows whose 'split' column has this value (e.g. test)")
    e.add_argument("--threshold", type=float,
                   help="probability for accuracy/sensitivity/specificity (default: the model's own decision "
                        "thresholds, else 0.5)")
    e.add_argument("--bootstrap", type=int, default=1000)
    e.add_argument("--out", required=True)

    x = sub.add_parser("explain", help="saliency maps per image and method: OUT/<stem>/<method>.png|.npy|.json")
    x.add_argument("--model", help="checkpoint path or shipped model name")
    x.add_argument("--methods", default="gradcam",
                   help="comma-separated: gradcam, gradcampp, gradient_x_input, smoothgrad, occlusion, silhouette, lrp")
    x.add_argument("--finding", required=True, help="the finding to explain, e.g. effusion")
    x.add_argument("--threshold", type=float, default=0.5, help="saliency level for the evidence box (0..1)")
    x.add_argument("--positive-only", type=float, metavar="P",
                   help="draw no heatmap where the probability is below P (as the source UI)")
    x.add_argument("--out", required=True)
    _add_threads_option(x)
    x.add_argument("images", nargs="+", metavar="IMAGE")

    v = sub.add_parser("evaluate-explanations",
                       help="localisation, faithfulness, robustness, complexity per method (OUT/summary.csv|md)")
    v.add_argument("--model", help="checkpoint path or shipped model name")
    _add_data_options(v)
    v.add_argument("--boxes", help="boxes CSV (image,finding,x,y,w,h); default: the data's own boxes")
    v.add_argument("--methods", help="comma-separated saliency methods (default: every registered method)")
    v.add_argument("--finding", required=True)
    v.add_argument("--steps", type=int, default=32, help="pixel-flipping steps (must divide H*W)")
    v.add_argument("--samples", type=int, default=5, help="noisy copies per image for Local Lipschitz")
    v.add_argument("--noise", type=float, default=0.1, help="Gaussian noise std (normalised input units)")
    v.add_argument("--max-images", type=int, default=50, help="images scored when the data has no box")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--out", required=True)
    _add_retrieval_parsers(sub)
    _add_serve_parser(sub)
    _add_zoo_parsers(sub)
    _add_pacs_parsers(sub)
    return parser


def _add_zoo_parsers(sub) -> None:
    m = sub.add_parser("models", help="the shipped models, with their model cards' headline numbers")
    m.add_argument("--json", action="store_true")
    r = sub.add_parser("report", help="reproduction report: the source studies' tables beside ours (OUT/README.md)")
    r.add_argument("--model", help="checkpoint path or shipped model name (default: the shipped default)")
    r.add_argument("--data", help="dataset folder; default: the model's shipped sample (all held-out patients)")
    r.add_argument("--test-fraction", type=float, default=0.2,
                   help="with --data: share of patients the training protocol held out (split seed --seed)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--kermany-model", help="paediatric model (default: kermany-paediatric when shipped)")
    r.add_argument("--kermany-data", help="paediatric data (default: that model's shipped sample)")
    r.add_argument("--igcbir-model", help="IG-CBIR checkpoint (train-igcbir) to add igcbir to the retrieval table")
    r.add_argument("--methods", help="saliency methods to evaluate (default: every registered method)")
    r.add_argument("--out", required=True)


def _load_data(args: argparse.Namespace, findings: list[str] | None = None):
    from chestxai.data.datasets import load_dataset

    return load_dataset(args.data, format=args.format, findings=findings, uncertainty=args.uncertainty,
                        frontal_only=not args.all_views)


def cmd_train(args: argparse.Namespace) -> int:
    if args.nproc < 1:
        raise ConfigError("--nproc must be >= 1")
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:  # not already a torchrun worker: spawn the group here
        from chestxai.train.distributed import launch

        launch(args.nproc, _train_rank, args)
        return 0
    return _train_rank(args)


def _train_rank(args: argparse.Namespace) -> int:
    """Train as this process (one of a DDP group when WORLD_SIZE > 1); only rank 0 prints the result."""
    from chestxai.data.findings import parse_findings
    from chestxai.train.augment import parse_augmentations
    from chestxai.train.fit import TrainConfig, fit

    findings = parse_findings(args.findings)
    config = TrainConfig(
        findings=findings, arch=args.arch, pretrained=args.pretrained, image_size=args.image_size,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, run_seed=args.run_seed,
        val_fraction=args.val_fraction, augment=parse_augmentations(args.augment), pos_weight=args.pos_weight,
        within_source=tuple(parse_findings(args.within_source) if args.within_source else ()), ema_decay=args.ema_decay,
        early_stop_patience=args.patience, strict=args.strict, init=args.init, head_epochs=args.head_epochs,
        command=args.command_line,
    )
    if config.head_epochs == config.epochs:  # a probe-only run: the library's, not this command's
        raise ConfigError("--head-epochs must be >= 0 and below --epochs (the rest fine-tune the whole network)")
    metrics = fit(_load_data(args, findings), args.out, config, resume=args.resume, progress=not args.no_progress)
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps({"model": str(Path(args.out) / "model.pt"), "best": metrics["best"]}, indent=2), flush=True)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from chestxai import load_model
    from chestxai.data.io import read_image_and_header
    from chestxai.models.scope import OUTSIDE_POPULATION, predict_in_scope, refusal

    model = load_model(args.model)
    results: dict[str, dict[str, float]] = {}
    failed = 0
    for path in args.images:
        try:
            image, header = read_image_and_header(path)
            ((scope, probabilities),) = predict_in_scope(model, [image], [header])
            if probabilities is None:
                raise refusal(path, scope)
            if scope.scope == OUTSIDE_POPULATION:
                print(f"chestxai: warning: {path}: {scope.warning()}", file=sys.stderr)
            results[path] = probabilities
        except ChestXAIError as exc:
            failed += 1
            print(f"chestxai: error: {exc}", file=sys.stderr)
    print(json.dumps(results, indent=2))
    return 1 if failed else 0


def cmd_check_scope(args: argparse.Namespace) -> int:
    """``{path: {"scope", "score", "reason"}}``; exit 0 whatever the scopes, 1 when a file cannot be read."""
    from chestxai import load_model
    from chestxai.data.io import read_image_and_header
    from chestxai.models.scope import check_scope

    model = load_model(args.model)
    results: dict[str, dict] = {}
    failed = 0
    for path in args.images:
        try:
            result = check_scope(model, *read_image_and_header(path))
        except ChestXAIError as exc:
            failed += 1
            print(f"chestxai: error: {exc}", file=sys.stderr)
            continue
        results[path] = {key: value for key, value in result.to_json().items() if key in ("scope", "score", "reason")}
        if not args.json:
            print(f"{path}: {result.scope} (score {result.score:.2f}): {result.reason}")
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if failed else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from chestxai import load_model
    from chestxai.errors import DataFormatError
    from chestxai.evaluate.report import evaluate_model
    from chestxai.models.checkpoint import decision_thresholds

    model = load_model(args.model)
    data = _load_data(args)
    if args.split:
        if "split" not in data.meta.columns:
            raise DataFormatError(f"{args.data}: --split given but the data has no 'split' column")
        import numpy as np

        data = data.subset(np.flatnonzero(data.meta["split"].astype(str).to_numpy() == args.split))
    threshold = args.threshold if args.threshold is not None else decision_thresholds(model, 0.5)
    report = evaluate_model(model, data, args.out, threshold=threshold, n_boot=args.bootstrap)
    print(json.dumps(report, indent=2, default=float))
    print(f"wrote {Path(args.out) / 'metrics.json'} and metrics.md", file=sys.stderr)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from chestxai import load_model
    from chestxai.explain import parse_methods
    from chestxai.explain.export import explain_files

    methods = parse_methods(args.methods)
    model = load_model(args.model)
    command = args.command_line
    summary = explain_files(model, args.images, methods, args.finding, args.out, threshold=args.threshold,
                            positive_only=args.positive_only, command=command)
    for message in summary["warnings"].values():
        print(f"chestxai: warning: {message}", file=sys.stderr)
    for path, message in summary["errors"].items():
        print(f"chestxai: error: {message}", file=sys.stderr)
    print(json.dumps(summary["images"], indent=2, default=float))
    return 1 if summary["errors"] else 0


def cmd_evaluate_explanations(args: argparse.Namespace) -> int:
    from chestxai import load_model
    from chestxai.data.datasets.csv import read_boxes
    from chestxai.errors import DataFormatError
    from chestxai.evaluate.explanation_report import evaluate_explanations
    from chestxai.explain import parse_methods

    methods = parse_methods(args.methods)
    model = load_model(args.model)
    data = _load_data(args)
    boxes = None
    if args.boxes:
        boxes_csv = Path(args.boxes)
        if not boxes_csv.is_file():
            raise DataFormatError(f"{boxes_csv}: boxes CSV not found")
        boxes = read_boxes(boxes_csv, boxes_csv.parent, set(data.paths))  # image paths relative to the CSV
    summary = evaluate_explanations(model, data, args.finding, methods, args.out, boxes=boxes, steps=args.steps,
                                    samples=args.samples, noise=args.noise, max_images=args.max_images,
                                    seed=args.seed)
    print(summary.to_json(orient="records", indent=2))
    print(f"wrote {Path(args.out) / 'summary.csv'} and summary.md", file=sys.stderr)
    return 0


# --- similar-case retrieval (issue 5) ------------------------------------------------------------------------------


def _add_retrieval_parsers(sub) -> None:
    """index, search, catalogue-info, evaluate-retrieval, train-igcbir."""
    from chestxai.retrieval.indexes import INDEX_TYPES

    i = sub.add_parser("index", help="add every image of a dataset to a case catalogue (incremental, idempotent)")
    i.add_argument("--model", help="checkpoint path or shipped model name")
    i.add_argument("--catalogue", required=True, help="catalogue folder (created if missing)")
    _add_data_options(i)
    i.add_argument("--embedder", default="cnn", choices=["cnn", "igcbir"])
    i.add_argument("--igcbir-model", help="IG-CBIR network from `chestxai train-igcbir` (for --embedder igcbir)")
    i.add_argument("--index-type", choices=list(INDEX_TYPES), help="FAISS index for a new embedder (default flat)")
    i.add_argument("--engine", default="local", choices=["local", "ray"],
                   help="local (default, this process) or ray (decode in tasks, embed in an actor pool)")
    i.add_argument("--address", help="Ray cluster: auto, ray://HOST:PORT (default: a running local Ray or a new one)")
    i.add_argument("--workers", type=int, help="Ray embedding actors (default: the cluster's GPUs, else its CPUs)")
    i.add_argument("--batch-size", type=int, default=64, help="images per Ray batch (decode and embed)")
    i.add_argument("--commit-size", type=int, default=256,
                   help="cases per catalogue commit with --engine ray (each commit rewrites the index file: raise it "
                        "for archives, see docs/scaling.md)")
    i.add_argument("--no-progress", action="store_true")

    s = sub.add_parser("search", help="the most similar catalogue cases to an image, best first")
    s.add_argument("--model", help="checkpoint path or shipped model name")
    s.add_argument("--catalogue", required=True)
    s.add_argument("--embedder", default="cnn", choices=["cnn", "igcbir", "ssim"])
    s.add_argument("--igcbir-model", help="IG-CBIR network (for --embedder igcbir)")
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--json", action="store_true", help="print a JSON list {case, image, score, labels}")
    s.add_argument("--overlays", metavar="DIR", help="write saliency overlays of the query and each case here")
    s.add_argument("--finding", help="finding explained in the overlays (default: the model's first)")
    _add_threads_option(s)
    s.add_argument("image", metavar="IMAGE")

    c = sub.add_parser("catalogue-info", help="number of cases and indexed embedders of a catalogue")
    c.add_argument("--catalogue", required=True)
    c.add_argument("--json", action="store_true")

    r = sub.add_parser("evaluate-retrieval", help="precision@k, nDCG, mAP of ssim/cnn/igcbir (OUT/summary.csv|md)")
    r.add_argument("--model", help="checkpoint path or shipped model name")
    _add_data_options(r)
    r.add_argument("--finding", required=True, help="the class the queries are judged by, e.g. effusion")
    r.add_argument("--expert-ranking", metavar="CSV", help="query,case,rank or query,case,relevance")
    r.add_argument("--igcbir-model", help="IG-CBIR network; adds igcbir to --methods")
    r.add_argument("--methods", help="comma list of ssim, cnn, igcbir (default: ssim,cnn and igcbir if given)")
    r.add_argument("--test-fraction", type=float, default=0.2, help="share of patients used as queries")
    r.add_argument("--out", required=True)

    g = sub.add_parser("train-igcbir", help="fine-tune IG-CBIR's network on the classifier's saliency maps")
    g.add_argument("--model", help="the classifier (checkpoint path or shipped model name)")
    _add_data_options(g)
    g.add_argument("--method", default="gradcam", help="saliency method (any registered in chestxai.explain)")
    g.add_argument("--finding", help="explain this finding for every image (default: each image's most probable)")
    g.add_argument("--epochs", type=int, default=5)
    g.add_argument("--lr", type=float, default=1e-4)
    g.add_argument("--batch-size", type=int, default=32)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--resume", action="store_true")
    g.add_argument("--no-progress", action="store_true")
    g.add_argument("--out", required=True)


def cmd_index(args: argparse.Namespace) -> int:
    from chestxai.retrieval.api import index_advice, index_dataset, index_line, index_records, load_embedder

    embedder = load_embedder(args.embedder, args.model, args.igcbir_model)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if args.engine == "ray":
        from chestxai.retrieval.ray_index import index_dataset_ray

        result = index_dataset_ray(args.catalogue, _load_data(args), embedder,
                                   (args.embedder, args.model, args.igcbir_model), args.index_type, args.address,
                                   args.workers, args.batch_size, args.commit_size, not args.no_progress, log)
    else:
        result = index_dataset(args.catalogue, _load_data(args), embedder, args.index_type, log=log)
    record = next(r for r in index_records(args.catalogue) if r["name"] == embedder.name)
    log(f"'{record['name']}' index: {index_line(record)}")
    if advice := index_advice(record):
        log(advice)
    print(json.dumps(result, indent=2))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from chestxai.retrieval.api import search_file, write_overlays

    hits = search_file(args.catalogue, args.image, args.embedder, args.k, args.model, args.igcbir_model)
    if args.json:
        print(json.dumps([case.to_json(score) for case, score in hits], indent=2))
    else:
        for rank, (case, score) in enumerate(hits, start=1):
            labels = ", ".join(f"{f}={v}" for f, v in case.labels.items())
            print(f"{rank:>3}  {score:+.3f}  case {case.id}  {case.image}  {labels}")
    if args.overlays:
        from chestxai import load_model

        finding = args.finding or load_model(args.model).findings[0]
        written = write_overlays(args.image, hits, args.overlays, finding, args.model)
        print(f"wrote {len(written)} overlays to {args.overlays}", file=sys.stderr)
    return 0


def cmd_catalogue_info(args: argparse.Namespace) -> int:
    from chestxai.retrieval.api import catalogue_info, index_advice, index_line, index_records

    info = catalogue_info(args.catalogue)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['cases']} cases; embedders: {', '.join(info['embedders']) or 'none'}")
    for record in index_records(args.catalogue):
        print(f"  {record['name']}: {index_line(record)}")
        if advice := index_advice(record):
            print(f"  note: {advice}")
    return 0


def _retrieval_methods(args: argparse.Namespace) -> dict:
    from chestxai.retrieval.api import load_embedder
    from chestxai.retrieval.embedders import SSIMScorer

    names = (args.methods or ("ssim,cnn,igcbir" if args.igcbir_model else "ssim,cnn")).split(",")
    methods: dict = {}
    for name in (n.strip() for n in names if n.strip()):
        if name not in ("ssim", "cnn", "igcbir"):
            raise ConfigError(f"unknown retrieval method {name!r}; use ssim, cnn, igcbir")
        methods[name] = SSIMScorer() if name == "ssim" else load_embedder(name, args.model, args.igcbir_model)
    return methods


def cmd_evaluate_retrieval(args: argparse.Namespace) -> int:
    from chestxai import load_model
    from chestxai.data.findings import canonical_finding
    from chestxai.evaluate.retrieval import evaluate_retrieval

    finding = canonical_finding(args.finding)
    methods = _retrieval_methods(args)
    pre = next((m.preprocess for m in methods.values() if hasattr(m, "preprocess")), None)
    pre = pre or load_model(args.model).preprocess
    summary = evaluate_retrieval(_load_data(args), finding, methods, args.out, pre, args.expert_ranking,
                                 test_fraction=args.test_fraction, command=args.command_line)
    print(summary.to_csv(index=False, float_format="%.3f"), end="")
    print(f"wrote {Path(args.out) / 'summary.csv'} and summary.md", file=sys.stderr)
    return 0


def cmd_train_igcbir(args: argparse.Namespace) -> int:
    from chestxai import load_model
    from chestxai.train.igcbir import train_igcbir

    model = load_model(args.model)
    metrics = train_igcbir(model, _load_data(args), args.out, method=args.method, target=args.finding,
                           resume=args.resume, progress=not args.no_progress, epochs=args.epochs, lr=args.lr,
                           batch_size=args.batch_size, seed=args.seed, strict=args.strict)
    print(json.dumps({"model": str(Path(args.out) / "model.pt"), "best": metrics["best"]}, indent=2))
    return 0


RETRIEVAL_COMMANDS = {
    "index": cmd_index, "search": cmd_search, "catalogue-info": cmd_catalogue_info,
    "evaluate-retrieval": cmd_evaluate_retrieval, "train-igcbir": cmd_train_igcbir,
}


COMMANDS = {"train": cmd_train, "predict": cmd_predict, "evaluate": cmd_evaluate, "explain": cmd_explain,
            "evaluate-explanations": cmd_evaluate_explanations, "check-scope": cmd_check_scope}
COMMANDS.update(RETRIEVAL_COMMANDS)


# --- the web page and REST API (issue 6) ---------------------------------------------------------------------------


def _add_serve_parser(sub) -> None:
    """serve: the page and the REST API on one address."""
    v = sub.add_parser("serve", help="the web page and REST API (upload an X-ray: findings, heatmaps, similar cases)")
    v.add_argument("--model", help="checkpoint path or shipped model name (default: the shipped default)")
    v.add_argument("--catalogue", help="case catalogue for similar cases (default: the shipped sample, if any)")
    v.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    v.add_argument("--port", type=int, default=8000)
    v.add_argument("--allow-remote", action="store_true",
                   help="answer other machines too (by default they need the API token)")
    d = sub.add_parser("demo", help="the page's chain on the command line: probabilities, heatmaps, box, similar cases")
    d.add_argument("--model", help="checkpoint path or shipped model name (default: the shipped default)")
    d.add_argument("--catalogue", help="case catalogue (default: the shipped sample, if any)")
    d.add_argument("--methods", default="gradcam,gradcampp", help="saliency methods, comma-separated")
    d.add_argument("--finding", help="finding to explain (default: the most abnormal one)")
    d.add_argument("--k", type=int, default=5, help="similar cases to show")
    d.add_argument("--out", help="folder for the overlays and result.json, replaced at each run (default: "
                                 "demo/ in the user cache, $CHESTXAI_CACHE or ~/.cache/chestxai)")
    d.add_argument("--json", action="store_true", help="print result.json instead of the summary")
    _add_threads_option(d)
    d.add_argument("image", metavar="FILE")


def cmd_serve(args: argparse.Namespace) -> int:
    import chestxai.pacs.objects  # noqa: F401 - registers the API's format=dicom-sr answer
    from chestxai.service.app import address, load_app, run_server

    app = load_app(args.model, args.catalogue, allow_remote=args.allow_remote)
    print(f"chestxai: serving on {address(args.host, args.port)} (Ctrl+C stops)", flush=True)
    run_server(app, args.host, args.port)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from chestxai import load_model
    from chestxai.service.analysis import Analyzer
    from chestxai.service.app import sample_catalogue
    from chestxai.service.demo import default_out, run_demo, summary_text

    def log(message: str) -> None:
        print(f"chestxai: {message}", file=sys.stderr)

    model = load_model(args.model)
    catalogue = Path(args.catalogue) if args.catalogue else sample_catalogue(args.model, log)
    analyzer = Analyzer(model, catalogue, model_name=args.model)
    try:
        record = run_demo(analyzer, args.image, args.out or default_out(), args.methods, args.k, args.finding)
    finally:
        analyzer.close()
    print(json.dumps(record, indent=2) if args.json else summary_text(record))
    return 0


COMMANDS["serve"] = cmd_serve
COMMANDS["demo"] = cmd_demo


def cmd_models(args: argparse.Namespace) -> int:
    from chestxai.models.zoo import MODELS, default_model_name, headline_aucs, model_card, shipped_models

    rows = []
    for name in shipped_models():
        card = model_card(name)
        headline, qualifiers = headline_aucs(card)
        rows.append({"name": name, "default": name == default_model_name(), "title": card.get("title", ""),
                     "arch": card.get("arch"), "image_size": card.get("image_size"), "test_auc": headline,
                     "qualifiers": qualifiers, "card": str(MODELS / name / "MODEL_CARD.md")})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no models are shipped with this installation", file=sys.stderr)
    for r in rows:
        aucs = ", ".join(f"{f} {a:.3f}" + (f" ({r['qualifiers'][f]})" if f in r["qualifiers"] else "")
                         for f, a in r["test_auc"].items())
        print(f"{r['name']}{' (default)' if r['default'] else ''}: {r['title']} [{r['arch']}, {r['image_size']} px]"
              f"\n    held-out AUC: {aucs}\n    card: {r['card']}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from chestxai import load_model
    from chestxai.evaluate.reproduction import reproduce
    from chestxai.explain import parse_methods
    from chestxai.models.zoo import sample_folder, shipped_models
    from chestxai.retrieval.api import load_embedder
    from chestxai.retrieval.embedders import SSIMScorer
    from chestxai.retrieval.sample import shipped_name

    model = load_model(args.model)
    data = args.data or sample_folder(shipped_name(args.model))
    k_name = args.kermany_model or ("kermany-paediatric" if "kermany-paediatric" in shipped_models() else None)
    k_model = load_model(k_name) if k_name else None
    k_data = args.kermany_data or (sample_folder(k_name) if k_name in shipped_models() else None)
    retrieval = {"ssim": SSIMScorer(), "cnn": load_embedder("cnn", args.model)}
    if args.igcbir_model:
        retrieval["igcbir"] = load_embedder("igcbir", args.model, args.igcbir_model)
    methods = tuple(parse_methods(args.methods))
    page = reproduce(model, data, args.out, k_model, k_data, retrieval, methods,
                     seed=args.seed, test_fraction=args.test_fraction if args.data else None,
                     command=args.command_line)
    print(f"wrote {page}", file=sys.stderr)
    return 0


COMMANDS["models"] = cmd_models
COMMANDS["report"] = cmd_report


# --- the PACS (issue 30) --------------------------------------------------------------------------------------------


def _add_pacs_parsers(sub) -> None:
    """pacs analyze (DICOMweb) and dicom-node (DIMSE): results back as DICOM SR + GSPS + Secondary Capture."""
    p = sub.add_parser("pacs", help="analyse studies in a PACS over DICOMweb and store the results there as DICOM")
    a = p.add_subparsers(dest="pacs_command", required=True).add_parser(
        "analyze", help="CR/DX frontal images of the studies -> SR, GSPS and SC in new series of the same study "
                        "(credentials: $CHESTXAI_PACS_USER, $CHESTXAI_PACS_PASSWORD)")
    a.add_argument("--url", required=True, help="DICOMweb root, e.g. https://pacs.example.org/dicom-web")
    which = a.add_mutually_exclusive_group(required=True)
    which.add_argument("--study", metavar="UID", help="one study")
    which.add_argument("--since", metavar="YYYYMMDD", help="studies of this date or later")
    which.add_argument("--new", action="store_true", help="every CR/DX study without this model version's results")
    a.add_argument("--model", help="checkpoint path or shipped model name (default: the shipped default)")
    a.add_argument("--methods", default="gradcam", help="saliency methods; the first one's box is drawn")
    a.add_argument("--catalogue", help="case catalogue for similar cases (default: the shipped sample; 'none')")
    a.add_argument("--ca-bundle", metavar="PEM", help="CA certificates that sign the PACS's TLS certificate")
    n = sub.add_parser("dicom-node", help="a DICOM node: receives CR/DX (C-STORE), sends SR, GSPS and SC back")
    n.add_argument("--ae-title", default="CHESTXAI")
    n.add_argument("--port", type=int, default=11112)
    n.add_argument("--host", default="0.0.0.0", help="address to listen on")
    n.add_argument("--send-to", required=True, metavar="AET@HOST:PORT", help="where the results are C-STOREd")
    n.add_argument("--spool", help="folder of images and results in flight (default: CACHE/dicom-node)")
    n.add_argument("--retry-max", type=float, default=60.0, help="longest wait between sends to a PACS that is down")
    n.add_argument("--model", help="checkpoint path or shipped model name (default: the shipped default)")
    n.add_argument("--methods", default="gradcam", help="saliency methods; the first one's box is drawn")
    n.add_argument("--catalogue", help="case catalogue for similar cases (default: the shipped sample; 'none')")


def _pacs_log(message: str) -> None:
    print(f"chestxai: {message}", file=sys.stderr, flush=True)


def cmd_pacs(args: argparse.Namespace) -> int:
    import re

    from chestxai.pacs.dicomweb import Pacs, analyze_studies
    from chestxai.pacs.objects import load_analyzer

    if args.since and not re.fullmatch(r"\d{8}", args.since):
        raise ConfigError(f"--since {args.since!r}: expected a date YYYYMMDD")
    pacs = Pacs(args.url, ca_bundle=args.ca_bundle)
    studies = pacs.studies(args.study, args.since)
    analyzer = load_analyzer(args.model, args.catalogue, args.methods, _pacs_log)
    try:
        summary = analyze_studies(pacs, analyzer, studies, args.methods, _pacs_log)
    finally:
        analyzer.close()
    print(json.dumps(summary.to_json(), indent=2))
    return 1 if summary.failed else 0


def cmd_dicom_node(args: argparse.Namespace) -> int:
    from chestxai.data.cache import default_cache_dir
    from chestxai.pacs.node import Destination, DicomNode
    from chestxai.pacs.objects import load_analyzer

    node = DicomNode(lambda: load_analyzer(args.model, args.catalogue, args.methods, _pacs_log), args.ae_title,
                     args.port, Destination.parse(args.send_to), args.spool or default_cache_dir() / "dicom-node",
                     args.methods, host=args.host, retry_max=args.retry_max, log=_pacs_log).start()
    _pacs_log(f"DICOM node {args.ae_title} listening on {args.host}:{args.port}, results to {args.send_to} "
              f"(Ctrl+C stops)")
    node.serve_forever()
    return 0


COMMANDS["pacs"] = cmd_pacs
COMMANDS["dicom-node"] = cmd_dicom_node


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    # Every written artefact records the command that made it (shell-quoted, reproducible).
    args.command_line = shlex.join(["chestxai", *argv])
    # Idle OpenMP threads sleep instead of spinning on cores other processes need (read when torch first loads).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        apply_threads(args.command, getattr(args, "threads", None))
        return COMMANDS[args.command](args)
    except ChestXAIError as exc:
        print(f"chestxai: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chestxai: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early: not an error of ours
        sys.stdout = open(os.devnull, "w")
        return 0


if __name__ == "__main__":
    sys.exit(main())
