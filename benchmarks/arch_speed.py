"""Per-image cost of each architecture against DenseNet-121 at the same resolution, measured in one run.

    python benchmarks/arch_speed.py [--image-size 224 --repeats 7 --threads 1] > benchmarks/results/arch_speed.md

For each architecture (random init: speed does not depend on the weights), the median seconds of: predict (one image
and a batch of 16, per image), every saliency method per image (one image), and the CNN embedding used to index a
catalogue (a batch of 16, per image). Every time is also given as DenseNet-121's time divided by it (higher =
faster), so the ratio holds on a busy machine as long as the runs are interleaved, which they are: each repeat
times every architecture once before the next repeat.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from chestxai.data.preprocess import Preprocess
from chestxai.explain import get_method
from chestxai.models import Classifier
from chestxai.models.registry import arch_spec
from chestxai.retrieval.embedders import CNNEmbedder

BASELINE = "densenet121"


def build(arch: str, size: int) -> Classifier:
    spec = arch_spec(arch)
    return Classifier(["effusion", "pneumonia", "normal"], arch, Preprocess(size, spec.mean, spec.std)).eval()


def tasks(model: Classifier, one: torch.Tensor, batch: torch.Tensor, images: list[np.ndarray], methods: list[str]):
    """name -> (callable, images it handles)."""
    jobs: dict[str, tuple[Callable[[], object], int]] = {
        "predict, 1 image": (lambda: model.predict_tensor(one), 1),
        "predict, batch of 16": (lambda: model.predict_tensor(batch), len(batch)),
        "index (CNN embedding), batch of 16": (lambda: CNNEmbedder(model).embed(images), len(images)),
    }
    for name in methods:
        method = get_method(name)

        def run(method=method) -> None:
            with method(model) as explainer:
                explainer.explain(one, 0)

        jobs[f"explain {name}, 1 image"] = (run, 1)
    return jobs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", default="densenet121,efficientnet_lite0,efficientnet_lite2")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--methods", default="gradcam,gradcampp,gradient_x_input,smoothgrad,occlusion")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    archs = args.archs.split(",")
    if archs[0] != BASELINE:
        archs = [BASELINE] + [a for a in archs if a != BASELINE]
    methods = [m for m in args.methods.split(",") if m]
    rng = np.random.default_rng(0)
    images = [rng.random((args.image_size, args.image_size), np.float32) for _ in range(16)]
    models = {a: build(a, args.image_size) for a in archs}
    x = {a: m.preprocess.batch(images) for a, m in models.items()}
    jobs = {a: tasks(m, x[a][:1], x[a], images, methods) for a, m in models.items()}
    for arch_jobs in jobs.values():  # warm-up: allocator, thread pools, lazy imports
        for fn, _ in arch_jobs.values():
            fn()
    times: dict[str, dict[str, list[float]]] = {a: {k: [] for k in jobs[a]} for a in archs}
    for _ in range(args.repeats):
        for a in archs:
            for name, (fn, n) in jobs[a].items():
                start = time.perf_counter()
                fn()
                times[a][name].append((time.perf_counter() - start) / n)

    params = {a: sum(p.numel() for p in m.parameters()) / 1e6 for a, m in models.items()}
    print(f"# Architecture speed against {BASELINE}, {args.image_size} px\n")
    print(f"Command: `python benchmarks/arch_speed.py --image-size {args.image_size} --repeats {args.repeats} "
          f"--threads {args.threads} --methods {args.methods}`; torch {torch.__version__}, {args.threads} thread(s), "
          f"{platform.processor() or platform.machine()}; median of {args.repeats} interleaved repeats, "
          "ms per image (speed-up = DenseNet-121 ms / this ms).\n")
    print("| task | " + " | ".join(f"{a} ({params[a]:.1f}M) ms" for a in archs) + " | "
          + " | ".join(f"{a} speed-up" for a in archs[1:]) + " |")
    print("|---|" + "---|" * (2 * len(archs) - 1))
    for name in jobs[BASELINE]:
        med = {a: statistics.median(times[a][name]) * 1e3 for a in archs}
        print(f"| {name} | " + " | ".join(f"{med[a]:.1f}" for a in archs) + " | "
              + " | ".join(f"{med[BASELINE] / med[a]:.2f}x" for a in archs[1:]) + " |")


if __name__ == "__main__":
    main()
