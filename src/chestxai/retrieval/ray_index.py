"""``chestxai index --engine ray``: embed an archive on a Ray cluster, commit it through the same catalogue writer.

Why Ray and not a pool of our own: an archive of millions of radiographs needs many machines, retries, back-pressure
and GPU scheduling, which Ray Data already does. The pipeline is

    driver: dataset rows (any layout ``--data`` accepts)  ->  ray.data.from_items
    tasks:  hash the file, drop what the catalogue already holds, decode, resize (``chestxai.data.decode``)
    actors: the embedder, loaded once per actor, on a GPU when the cluster has one (``ray_actor.EmbedActor``)
    driver: stream (case, vector, labels) back and commit ``commit_size`` cases per transaction with
            :meth:`Catalogue.add_vectors`, the local engine's writer

so the guarantees are the local ones: every commit is atomic (new index generation, then the rows that point at it),
adding is idempotent by content hash, and a re-run after a crash skips what was committed (before decoding it).
Each batch records when it entered and left an actor, so the result separates the run's fixed start-up
(``startup_seconds``: Ray Data, worker boot, torch import, model load) from the pool's rate once it embeds
(``embedding_images_per_s``), the figure an archive of millions sees. The driver is the only writer; it hands the
vectors to :meth:`Catalogue.add_vectors` with the real embedder's identity (name, model hash, dim, metric), the
same transaction :meth:`Catalogue.add` runs, so the two engines' catalogues are one format.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from chestxai._version import __version__
from chestxai.data.atomic import atomic_write_bytes
from chestxai.data.cache import default_cache_dir
from chestxai.data.datasets.base import CXRDataset
from chestxai.data.decode import decode_batch
from chestxai.errors import ConfigError
from chestxai.retrieval.catalogue import THUMB_PRE, AddReport, Catalogue, boxes_by_path, case_from_row
from chestxai.retrieval.embedders import Embedder
from chestxai.retrieval.ray_actor import EmbedActor, script_features


def require_ray() -> None:
    """Ray is an extra: without it, one line that says how to install it (not an import traceback)."""
    try:
        import ray  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "ray":
            raise
        raise ConfigError("--engine ray needs Ray, which is not installed here: pip install 'chestxai[ray]'") from None


def _connect(address: str | None) -> bool:
    """Join the cluster at ``address`` (or a running local one); start a local Ray when there is none. True when
    this call started Ray (and so must stop it)."""
    import ray

    if ray.is_initialized():
        return False
    ray.init(address=address, log_to_driver=False, include_dashboard=False)
    return True


def scripted_cnn(embedder: Embedder) -> bytes:
    """The CNN embedder as TorchScript bytes for the actors, cached per model, input size, chestxai and torch version
    (a trace freezes the code of ``Classifier.features`` as well as the weights).

    Why a cache: tracing costs the driver ~1.6 s on 2 cores (DenseNet-121, 128 px), in the wall time of every run,
    for a pure function of the weights; re-runs of an archive (resumes, nightly additions) reuse it. It sits beside
    the decoded-image cache (``$CHESTXAI_CACHE``); when that cannot be written, the run goes on uncached.
    """
    key = f"{embedder.model_hash}-{embedder.preprocess.image_size}px-chestxai{__version__}-torch{torch.__version__}"
    path = default_cache_dir() / "torchscript" / f"{key}.pt"
    if path.is_file():
        return path.read_bytes()
    scripted = script_features(embedder.model)
    try:
        atomic_write_bytes(scripted, path)
    except OSError:
        pass  # a read-only cache only costs the next run the trace
    return scripted


def _pipeline(dataset: CXRDataset, embedder: Embedder, spec: tuple, skip: set[str], workers: int | None,
              batch_size: int) -> Iterator[dict[str, np.ndarray]]:
    """The Ray Data plan (lazy): rows -> decode tasks -> embedding actor pool; batches in dataset order."""
    import ray

    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # same case ids as the local engine; resumes in file order
    ctx.enable_progress_bars = False  # the run's own bar (images/s) is the one the user reads
    resources = ray.cluster_resources()
    # The CNN travels as TorchScript (see chestxai.retrieval.ray_actor) and runs on a GPU when the cluster has one;
    # any other embedder is loaded from its spec and embeds on CPU (it has no device option), so it asks for none.
    source = scripted_cnn(embedder) if embedder.name == "cnn" else spec
    gpus = int(resources.get("GPU", 0)) if isinstance(source, bytes) else 0
    n = workers or max(1, gpus or int(resources.get("CPU", 1)))
    items = [{"row": i, "path": str(p)} for i, p in enumerate(dataset.paths)]
    ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items) // batch_size + 1, 4 * n)))
    # A decode task is single-threaded CPU work and reserves one CPU: on 2 cores with two actors that leaves one
    # decode task at a time (349 images/s, ten times what the actors consume), and fewer worker processes booting at
    # the start; a quarter CPU each let four start at once and the run end ~10% later (profiled, 2026-12-01).
    # Decoding inside the actors (same resources, so Ray Data fuses the two steps) was measured too (2026-12-02):
    # no faster with 2 workers on 2 cores, and slower with 1 (decoding no longer runs on the spare core).
    pre = embedder.preprocess
    ds = ds.map_batches(decode_batch, fn_kwargs={"pre": pre, "thumb": THUMB_PRE, "skip": skip},
                        batch_size=batch_size, num_cpus=1, batch_format="numpy")
    # CPU actors reserve half a logical CPU each so that decode tasks can still be scheduled beside them on a small
    # machine; each runs torch on one thread. On GPU nodes each actor holds one GPU.
    args = (source, pre, embedder.dim, 1 if not gpus else 4, embedder.batch_size)
    ds = ds.map_batches(EmbedActor, fn_constructor_args=args, batch_size=batch_size,
                        compute=ray.data.ActorPoolStrategy(size=n), num_gpus=1 if gpus else 0,
                        num_cpus=1 if gpus else 0.5, batch_format="numpy")
    return ds.iter_batches(batch_size=batch_size, batch_format="numpy", prefetch_batches=2)


def index_dataset_ray(
    catalogue: str | Path,
    dataset: CXRDataset,
    embedder: Embedder,
    spec: tuple[str, str | None, str | None],
    index_type: str | None = None,
    address: str | None = None,
    workers: int | None = None,
    batch_size: int = 64,
    commit_size: int = 256,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Add every image of ``dataset`` to the catalogue, embedded on Ray; the same answer as ``index_dataset``.

    ``spec`` = (embedder name, model, IG-CBIR model) as the user gave them: each actor loads the embedder from it;
    ``embedder`` (loaded here from the same spec) only supplies the identity checked against the catalogue.
    """
    if min(batch_size, commit_size, workers or 1) < 1:
        raise ConfigError("--batch-size, --commit-size and --workers must be >= 1")
    require_ray()
    from tqdm import tqdm

    started = _connect(address)
    t0, wall0 = time.perf_counter(), time.time()
    try:
        with Catalogue(catalogue) as cat:
            skip = cat.committed_hashes(embedder.name)
            report = AddReport(skipped=0)
            writer = _Writer(cat, dataset, embedder, index_type, commit_size, report)
            # total = the dataset; images committed by an earlier run are dropped before decoding and never counted,
            # so a resumed run's bar ends short of it and is closed at what was done.
            bar = tqdm(total=len(dataset), disable=not progress, unit="img", desc="index (ray)")
            for batch in _pipeline(dataset, embedder, spec, skip, workers, batch_size):
                writer.take(batch)
                bar.update(len(batch["row"]))
            writer.flush()
            bar.total = bar.n
            bar.close()
            report.skipped += len(dataset) - writer.returned  # committed by an earlier run: dropped before decoding
            seconds = time.perf_counter() - t0
            timing = writer.timing(wall0)
            if log:
                log(f"indexed {writer.seen} new image(s) in {seconds:.1f}s ({writer.seen / max(seconds, 1e-9):.1f}/s)"
                    + (f"; the actor pool started embedding after {timing['startup_seconds']:.1f}s and then embedded "
                       f"{timing['embedding_images_per_s']:.1f} images/s" if timing else ""))
            return {**report.to_json(), "cases": len(cat), "engine": "ray", "seconds": round(seconds, 3), **timing}
    finally:
        if started:
            import ray

            ray.shutdown()


class _Writer:
    """The driver's side: collects streamed rows and commits ``commit_size`` of them per catalogue transaction."""

    def __init__(self, cat: Catalogue, dataset: CXRDataset, embedder: Embedder, index_type: str | None,
                 commit_size: int, report: AddReport) -> None:
        self.cat, self.dataset, self.embedder, self.index_type = cat, dataset, embedder, index_type
        self.commit_size, self.report, self.seen, self.returned = commit_size, report, 0, 0
        self.pending: list = []  # (new case, its vector)
        self.embed_start, self.embed_end = float("inf"), float("-inf")
        self.boxes = boxes_by_path(dataset)
        # a new IVF index is trained on the first commit: make it a training sample sized for the dataset
        self.threshold = cat.first_write_size(embedder.name, index_type, len(dataset), commit_size)

    def take(self, batch: dict[str, np.ndarray]) -> None:
        """Queue a streamed batch (unreadable files go to the report), committing whenever enough are pending."""
        self.returned += len(batch["row"])
        if len(batch["row"]):
            self.embed_start = min(self.embed_start, float(np.min(batch["embed_start"])))
            self.embed_end = max(self.embed_end, float(np.max(batch["embed_end"])))
        for row, digest, thumb, err, vector in zip(batch["row"], batch["hash"], batch["thumb"], batch["error"],
                                                   batch["vector"]):
            if err:
                self.report.errors[self.dataset.paths[int(row)]] = str(err)
                continue
            self.seen += 1
            case = case_from_row(self.dataset, int(row), None, thumb, self.boxes, content_hash=str(digest))
            self.pending.append((case, vector))
            if len(self.pending) >= self.threshold:
                self.flush()

    def timing(self, wall0: float) -> dict[str, float]:
        """Seconds from the run's start until the first batch entered an actor (Ray Data's and the actors'
        start-up: a fixed cost per run), and the images/s from then until the last batch left an actor (what an
        archive of millions sees). Empty when nothing was embedded. Actor wall clocks: on a multi-node cluster
        their skew is in these numbers."""
        if self.embed_end <= self.embed_start:
            return {}
        return {"startup_seconds": round(self.embed_start - wall0, 3),
                "embedding_images_per_s": round(self.returned / (self.embed_end - self.embed_start), 2)}

    def flush(self) -> None:
        """One atomic commit of the pending cases (the crash-safety unit, as in the local engine)."""
        if self.pending:
            cases, vectors = zip(*self.pending)
            self.report.merge(self.cat.add_vectors(cases, np.stack(vectors), self.embedder, self.index_type,
                                                   expected=len(self.dataset)))
            self.pending, self.threshold = [], self.commit_size
