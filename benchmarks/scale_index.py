"""Indexing throughput of the local engine and of Ray (1 and 2 embedding workers), each next to the model's bare
forward throughput measured in the same run.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/scale_index.py [--data ../shared/data] [--model nih-adult] \
        [--workers 1,2] [--forward-images 256] [--out benchmarks/results/scale_index.md]

What is timed (wall clock, images/s = images indexed / seconds):

- forward-only: the model's features over already-decoded, resized tensors in batches of 32 (as the embedder), no
  hashing, decoding, SQLite or FAISS: the ceiling an indexer can approach on the same cores, measured just before
  and just after each run. For local, the eager ``model.features`` in this process on 1 thread; for Ray with N
  workers, N Ray actors (1 thread each, like the embedding actors) at once running the TorchScript the embedding
  actors run (15-20% faster than eager on this CPU: each engine against its own forward).
- ``local``: ``chestxai index`` (``index_dataset``) into a new catalogue with a cold decode cache (a fresh
  ``CHESTXAI_CACHE``), torch on 1 thread: hash, decode, resize, thumbnails, embed, commit.
- ``ray, N workers``: ``chestxai index --engine ray --workers N`` (``index_dataset_ray``) into a new catalogue on a
  local ``ray.init(num_cpus=2)`` started before timing; the time includes starting Ray Data and the actor pool (each
  actor imports torch and loads the model's TorchScript) and every commit. Each actor runs torch on 1 thread. The
  run reports itself when its first batch entered an actor (start-up) and the images/s from then to the last batch
  (the rate an archive of millions sees, where the start-up is paid once). Tracing the model to TorchScript happens
  once per model (cached) and is timed apart, before the Ray runs.

Every number comes from this one run on this machine; it is shared with other jobs, so the load average at the start
is recorded beside them.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch


def forward_window(features, pre, pixels: np.ndarray, threads: int, batch: int = 32) -> tuple[float, float]:
    """Start and end (``time.perf_counter``, CLOCK_MONOTONIC on Linux, so comparable across processes of this
    machine) of ``features`` (the eager ``model.features`` or its TorchScript) alone over pre-decoded uint8 pixels,
    in the embedder's own batches of 32 (on these CPUs batches of 64 ran ~1.4x slower per image, which would flatter
    the indexers). Converting the pixels and two warm-up calls happen before the window opens: first-call allocations
    and TorchScript's profiling runs are not throughput, and counting them (as this benchmark did until 2026-12-02,
    for the Ray actors) adds ~25% work to 256 images and reads the ceiling low."""
    from chestxai.retrieval.vectors import to_model_input

    torch.set_num_threads(threads)
    x = to_model_input(list(pixels), pre)
    with torch.inference_mode():
        features(x[:batch])
        features(x[:batch])
        t0 = time.perf_counter()
        for i in range(0, len(x), batch):
            features(x[i : i + batch])
        t1 = time.perf_counter()
    torch.set_num_threads(1)
    return t0, t1


def forward_rate(features, pre, pixels: np.ndarray, threads: int) -> float:
    """Images/s of the bare forward in this process (see ``forward_window``): the local engine's ceiling."""
    t0, t1 = forward_window(features, pre, pixels, threads)
    return len(pixels) / (t1 - t0)


def parallel_forward_rate(scripted: bytes, pre, pixels: np.ndarray, workers: int) -> tuple[float, float]:
    """Images/s of ``workers`` Ray actors (1 torch thread each, like the embedding actors) all running the bare
    TorchScript forward the embedding actors run over ``pixels`` at once, and the seconds it took to start them
    (torch import, model load): the ceiling of a ``workers``-actor index run on these cores, and its fixed start-up
    cost. The rate is all actors' images over the span from the first actor's window opening to the last one's
    closing, each window timed inside its actor: Ray's call overhead, the pixel conversion and the warm-up stay
    out, as they stay out of the in-process ceiling."""
    import ray

    @ray.remote(num_cpus=0.5)
    class Forward:
        def __init__(self, scripted: bytes) -> None:
            from chestxai.retrieval.ray_actor import load_scripted

            torch.set_num_threads(1)
            self.features = load_scripted(scripted, "cpu").features

        def run(self, px: np.ndarray) -> tuple[float, float]:
            return forward_window(self.features, pre, px, 1)

    t0 = time.perf_counter()
    actors = [Forward.remote(scripted) for _ in range(workers)]
    ray.get([a.__ray_ready__.remote() for a in actors])
    started = time.perf_counter() - t0
    ref = ray.put(pixels)
    windows = ray.get([a.run.remote(ref) for a in actors])
    rate = workers * len(pixels) / (max(w[1] for w in windows) - min(w[0] for w in windows))
    for a in actors:
        ray.kill(a)
    return rate, started


def time_local(data, embedder, root: Path) -> tuple[float, dict]:
    """Seconds and result of the local engine with a cold image cache (decoding is part of indexing)."""
    from chestxai.retrieval.api import index_dataset

    os.environ["CHESTXAI_CACHE"] = str(root / "cache")
    t0 = time.perf_counter()
    result = index_dataset(root / "local", data, embedder)
    return time.perf_counter() - t0, result


def time_ray(data, embedder, model_name: str | None, root: Path, workers: int) -> tuple[float, dict]:
    from chestxai.retrieval.ray_index import index_dataset_ray

    t0 = time.perf_counter()
    result = index_dataset_ray(root / f"ray{workers}", data, embedder, ("cnn", model_name, None), workers=workers,
                               batch_size=64, progress=False)
    return time.perf_counter() - t0, result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--model", default=None, help="checkpoint or shipped model name (default: the shipped default)")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--forward-images", type=int, default=256, help="images the forward-only rate is measured on")
    ap.add_argument("--repeats", type=int, default=3,
                    help="whole rounds (local, then Ray with each worker count); the report gives each and medians")
    ap.add_argument("--out", default="benchmarks/results/scale_index.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    import ray

    from chestxai.data.datasets import load_dataset
    from chestxai.data.io import read_image
    from chestxai.retrieval.api import load_embedder

    load = os.getloadavg()[0]
    data = load_dataset(args.data)
    embedder = load_embedder("cnn", args.model)
    model = embedder.model
    n_fwd = min(args.forward_images, len(data))
    t0 = time.perf_counter()
    pixels = np.stack([model.preprocess.resize_uint8(read_image(p)) for p in data.paths[:n_fwd]])
    decode_rate = n_fwd / (time.perf_counter() - t0)  # read + decode + resize, 1 thread: CPU work a GPU cannot take
    workers = [int(w) for w in args.workers.split(",")]
    rows, starts, scripts, speeds = [], [], [], []
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    from chestxai.retrieval.ray_actor import load_scripted
    from chestxai.retrieval.ray_index import scripted_cnn

    try:
        for rep in range(1, args.repeats + 1):
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                before = forward_rate(model.features, model.preprocess, pixels, 1)
                seconds, res = time_local(data, embedder, root)  # a fresh decode cache per repeat
                fwd1 = (before + forward_rate(model.features, model.preprocess, pixels, 1)) / 2
                rows.append((rep, "local (1 thread)", res["added"], seconds, fwd1, None, None))
                print(f"[{rep}] forward 1 thread {fwd1:.1f} img/s; local {res['added'] / seconds:.1f} img/s",
                      file=sys.stderr)
                t0 = time.perf_counter()
                scripted = scripted_cnn(embedder)  # once per model (cached): timed apart, every Ray run starts alike
                scripts.append(time.perf_counter() - t0)
                eager = forward_rate(model.features, model.preprocess, pixels, 1)
                traced = forward_rate(load_scripted(scripted, "cpu").features, model.preprocess, pixels, 1)
                speeds.append((eager, traced))
                for w in workers:
                    before, started = parallel_forward_rate(scripted, model.preprocess, pixels, w)
                    seconds, res = time_ray(data, embedder, args.model, root, w)
                    fwd = (before + parallel_forward_rate(scripted, model.preprocess, pixels, w)[0]) / 2
                    rows.append((rep, f"ray, {w} worker{'s' if w > 1 else ''}", res["added"], seconds, fwd,
                                 res["startup_seconds"], res["embedding_images_per_s"]))
                    starts.append((w, started))
                    print(f"[{rep}] forward {w} actors {fwd:.1f} img/s (start {started:.1f}s); ray {w} "
                          f"{res['added'] / seconds:.1f} img/s, {res['embedding_images_per_s']:.1f} once started "
                          f"after {res['startup_seconds']:.1f}s", file=sys.stderr)
    finally:
        ray.shutdown()
    script_s = float(np.median(scripts))
    eager_fwd, traced_fwd = (float(np.median(v)) for v in zip(*speeds))
    text = report(rows, starts, args, len(data), n_fwd, load, model.num_features, decode_rate, script_s,
                  eager_fwd, traced_fwd)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


def report(rows, starts, args, n_images: int, n_fwd: int, load: float, dim: int, decode_rate: float,
           script_s: float, eager_fwd: float, traced_fwd: float) -> str:
    """The markdown tables: each round's images/s beside the forward-only ceiling on the same cores, then the
    medians over rounds (this shared machine moves single figures by 10-20%)."""
    cmd = "OMP_NUM_THREADS=1 nice -n 10 python " + shlex.join(["benchmarks/scale_index.py", *sys.argv[1:]])
    lines = [
        "# Indexing throughput: local vs Ray", "",
        f"`{cmd}`", "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPU cores (shared; 1-min load average "
        f"{load:.1f} at the start), {n_images} images of `{args.data}`, shipped model (embedding dim {dim}), "
        f"forward-only rate measured on {n_fwd} pre-decoded images just before and just after each run (their "
        f"mean is the ceiling), torch 1 thread per process unless stated, {args.repeats} round(s).", "",
        "## Medians over rounds", "",
        "| engine | wall s | images/s | indexing time / forward time | start-up s | ratio once embedding |",
        "|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r[1] for r in rows):
        mine = [r for r in rows if r[1] == name]
        med = lambda xs: f"{float(np.median(xs)):.2f}" if all(x is not None for x in xs) else "-"  # noqa: E731
        lines.append(f"| {name} | {med([r[3] for r in mine])} | {med([r[2] / r[3] for r in mine])} | "
                     f"{med([r[4] * r[3] / r[2] for r in mine])} | {med([r[5] for r in mine])} | "
                     f"{med([r[4] / r[6] if r[6] else None for r in mine])} |")
    lines += [
        "", "## Every round", "",
        "| round | engine | images | wall s | images/s | forward-only img/s (same cores) | indexing time / forward "
        "time | start-up s (until the first batch reached an actor) | images/s once embedding | ratio once embedding |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rep, name, n, seconds, fwd, startup, steady in rows:
        rate = n / seconds
        tail = (f"{startup:.1f} | {steady:.1f} | {fwd / steady:.2f}" if steady else "- | - | -")
        lines.append(f"| {rep} | {name} | {n} | {seconds:.1f} | {rate:.1f} | {fwd:.1f} | {fwd / rate:.2f} | {tail} |")
    lines += ["", "Forward-only for Ray = that many Ray actors (1 torch thread each) running at once the bare "
              "TorchScript forward that the embedding actors run; for local = the eager forward it runs, in this "
              f"process. In this process on 1 thread (medians over rounds) the eager forward ran {eager_fwd:.1f} and "
              f"the TorchScript one {traced_fwd:.1f} images/s: each engine is measured against its own forward. Ray wall time includes starting the actor pool (one model "
              "load per actor) and every catalogue commit. Decoding alone (read, decode, resize; 1 thread, first "
              f"{n_fwd} images): {decode_rate:.1f} images/s. Starting N bare actors that load the model, timed apart: "
              + ", ".join(f"{w} actor{'s' if w > 1 else ''} {s:.1f} s" for w, s in starts) + ". The last three "
              "columns are the Ray run's own report (`startup_seconds`, `embedding_images_per_s` in `chestxai index "
              "--engine ray`'s output): start-up is everything before the first batch entered an actor (Ray Data's "
              "executor and its helper actors, the decode workers, each actor importing torch and loading the "
              "model's TorchScript); the rate after it is what an archive of millions of images sees, where the start-up is paid "
              "once per run and vanishes in the total. The actors get the CNN as TorchScript traced by the driver and "
              f"cached per model (`scripted_cnn`): tracing took {script_s:.1f} s (median), timed apart before the Ray runs "
              "(a model's first Ray run anywhere pays it once on top of its wall time; every later run reads the "
              "cache)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
