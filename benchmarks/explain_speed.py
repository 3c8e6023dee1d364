"""Time our Grad-CAM against pytorch-grad-cam's GradCAM on DenseNet-121, and every method per image, in one run.

    python benchmarks/explain_speed.py [--image-size 128 --repeats 5 --threads 2] > benchmarks/results/explain_speed.md

Both Grad-CAMs explain the same model (random init: speed does not depend on the weights) and the same images,
interleaved, median of ``--repeats``; one image and a batch of 16. Results are numerically checked to agree before
any time is reported. Then ms per image for every registered method on a batch of ``--method-batch``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from chestxai.data.preprocess import Preprocess
from chestxai.explain import METHODS, GradCAM, get_method
from chestxai.models import Classifier


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: allocator, thread pools, lazy imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare_gradcam(model: Classifier, x: torch.Tensor, repeats: int) -> tuple[float, float, float]:
    """(ours s, pytorch-grad-cam s, max abs difference) for the batch ``x``."""
    from pytorch_grad_cam import GradCAM as ReferenceGradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    targets = [ClassifierOutputTarget(0)] * len(x)
    with GradCAM(model) as ours, ReferenceGradCAM(model, [model.target_layer]) as theirs:
        mine = np.stack([m.map for m in ours.explain(x, 0)])
        reference = theirs(x, targets)
        difference = float(np.abs(mine - reference).max())
        ours_s = median_seconds(lambda: ours.explain(x, 0), repeats)
        theirs_s = median_seconds(lambda: theirs(x, targets), repeats)
    return ours_s, theirs_s, difference


def method_table(model: Classifier, images: list[np.ndarray], repeats: int) -> list[tuple[str, float]]:
    rows = []
    for name in METHODS:
        with get_method(name)(model, batch_size=len(images)) as method:
            seconds = median_seconds(lambda: method.explain(images, 0), repeats)
        rows.append((name, 1000 * seconds / len(images)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-size", type=int, default=128, help="model input size (the reference recipe's 128)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--method-batch", type=int, default=8)
    ap.add_argument("--method-repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="1: steadier on a shared machine")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Classifier(["effusion", "pneumonia"], "densenet121", Preprocess(args.image_size)).eval()
    rng = np.random.default_rng(0)
    images = [rng.random((384, 384), np.float32) for _ in range(16)]
    batch16 = model.preprocess.batch(images)

    print("# Explanation speed (CPU)\n")
    print(f"Command: `python {' '.join(sys.argv)}`  ")
    print(f"torch {torch.__version__}, {args.threads} threads, {platform.processor() or platform.machine()}, "
          f"DenseNet-121 at {args.image_size} px, random weights; median of {args.repeats}.\n")
    print("| Grad-CAM | ours ms/image | pytorch-grad-cam ms/image | ours / pytorch-grad-cam | max abs diff |")
    print("|---|---|---|---|---|")
    for n in (1, 16):
        ours_s, theirs_s, diff = compare_gradcam(model, batch16[:n], args.repeats)
        print(f"| batch of {n} | {1000 * ours_s / n:.1f} | {1000 * theirs_s / n:.1f} | {ours_s / theirs_s:.2f}x "
              f"| {diff:.1e} |", flush=True)
    print(f"\n| method (batch of {args.method_batch}, 384 px images in, maps out at 384 px) | ms per image |")
    print("|---|---|")
    for name, ms in method_table(model, images[: args.method_batch], args.method_repeats):
        print(f"| {name} | {ms:.1f} |", flush=True)


if __name__ == "__main__":
    main()
