"""Similar-case retrieval on ../shared/data: build a catalogue, run the paper's evaluation, keep the table.

    python benchmarks/retrieval_report.py [--model runs/reference/model.pt] [--igcbir-model CKPT] \
        [--data ../shared/data] [--finding effusion] [--out benchmarks/results]

Writes ``OUT/retrieval_report.md`` (the command, the model, the catalogue build, the evaluation table) and
``OUT/retrieval_report/`` (summary.csv, summary.md, summary.json, examples.png). Methods: ssim and cnn, plus igcbir
when ``--igcbir-model`` (from ``chestxai train-igcbir``) is given.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(REPO / "runs" / "reference" / "model.pt"))
    ap.add_argument("--igcbir-model")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--finding", default="effusion")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731

    from chestxai import load_model
    from chestxai.data.datasets import load_dataset
    from chestxai.evaluate.retrieval import evaluate_retrieval, summary_body
    from chestxai.models.checkpoint import load_checkpoint
    from chestxai.retrieval.embedders import CNNEmbedder, SSIMScorer, build_embedder

    model = load_model(args.model)
    data = load_dataset(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        built = build_catalogue(model, data, Path(tmp) / "catalogue")
    log(f"catalogue: {built}")
    methods = {"ssim": SSIMScorer(), "cnn": CNNEmbedder(model)}
    if args.igcbir_model:
        methods["igcbir"] = build_embedder("igcbir", model, load_checkpoint(args.igcbir_model))
    out = Path(args.out)
    summary = evaluate_retrieval(data, args.finding, methods, out / "retrieval_report", model.preprocess, log=log)
    meta = model.checkpoint_meta
    best = meta.get("metrics", {})
    command = "python benchmarks/retrieval_report.py " + " ".join(sys.argv[1:])
    import json

    info = json.loads((out / "retrieval_report" / "summary.json").read_text())
    info["command"] = command.strip()
    lines = [
        "# Similar-case retrieval on ../shared/data", "",
        f"Command: `{command.strip()}`", "",
        f"Model: `{Path(args.model).name}` ({meta['arch']}, {model.preprocess.image_size} px, findings "
        f"{', '.join(model.findings)}; checkpoint of epoch {best.get('epoch', '?')}, validation AUC "
        + ", ".join(f"{k} {v:.3f}" for k, v in best.get("val_auc", {}).items()) + ").", "",
        f"Catalogue (cnn, flat): {built['added']} cases indexed in {built['seconds']:.1f} s "
        f"({built['added'] / built['seconds']:.1f} images/s), {built['unreadable']} unreadable; re-indexing added "
        f"{built['reindex_added']}; an image searched for itself comes first: {built['self_hit']} "
        f"(score {built['self_score']:.3f}).", "",
        summary_body(summary, {**info, "figure": "retrieval_report/examples.png"}),
    ]
    (out / "retrieval_report.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
