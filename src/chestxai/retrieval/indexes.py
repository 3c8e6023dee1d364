"""The FAISS index factory: which index a catalogue builds for an embedder, with which parameters, and how.

Index types (``--index-type``): ``flat`` (exact), ``hnsw``, ``ivfflat``, ``ivfsq8`` and ``ivfpq``. Labels are
case ids. The catalogue (:mod:`chestxai.retrieval.catalogue`) stores the type and parameters beside each index file
and calls this module to create, tune after loading, shrink, and score; ``benchmarks/retrieval_speed.py`` builds
its IVF indexes here too, so what it measures is what a catalogue gets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import faiss
import numpy as np

from chestxai.errors import ConfigError

INDEX_TYPES = ("flat", "ivfflat", "ivfsq8", "hnsw", "ivfpq")
IVF_TYPES = ("ivfflat", "ivfsq8", "ivfpq")
# Share of an IVF's lists one query scans, and the fewest. Measured (benchmarks/results/retrieval_speed.md, 1 core):
# on 1M 1024-d vectors drawn like the real embeddings (their mean and covariance), 1024 lists, nprobe 16 gave
# recall@10 0.997 at 4.3 ms p50 (ivfflat; 5.7 ms in a rerun) and 0.972 at 2.1 ms (ivfsq8; 0.969 at 3.8 ms in the
# rerun); nprobe 8 left ivfsq8 below 0.95. At 100k (256 lists) 8 probes gave 0.98.
IVF_NPROBE_SHARE = 1 / 64
IVF_MIN_NPROBE = 8

# Exact search stays the default below this many vectors: a flat scan of 1024-d float32 vectors took p50 <= 5 ms up
# to about 10,000 of them on this project's 2-core machine (benchmarks/results/retrieval_speed.md); past it, the
# index command suggests an approximate index.
FLAT_SUGGEST_ABOVE = 10_000


def ivf_lists(n_train: int, expected: int | None = None) -> int:
    """Lists of an IVF-Flat/SQ8 index trained on ``n_train`` vectors for a catalogue expected to hold ``expected``
    (default ``n_train``): ~sqrt(expected) (a power of two), as measured at 1M, but at most one per 39 training
    vectors (k-means needs them); a tiny first batch gives one list (= exact)."""
    return max(1, min(sqrt_lists(max(expected or n_train, n_train)), n_train // 39))


def sqrt_lists(n: int) -> int:
    """The power of two nearest sqrt(n): the IVF list count measured best at 1M (1024)."""
    return 2 ** round(math.log2(math.sqrt(max(n, 1))))


def training_sample_size(index_type: str | None, expected: int) -> int:
    """How many vectors the first write of a new ``index_type`` index should hold so that its lists are trained
    for a catalogue of ``expected`` vectors: 64 per IVF list (k-means wants 39-256); for IVF-PQ 64 per list of its
    4 x sqrt(n) lists but at least 39 x 256 (its 256 PQ centroids); at most all of them; 0 when no training."""
    if index_type in ("ivfflat", "ivfsq8"):
        return min(expected, 64 * sqrt_lists(expected))
    if index_type == "ivfpq":
        return min(expected, max(256 * 39, 64 * int(4 * math.sqrt(expected))))
    return 0


def index_params(index_type: str, dim: int, n_train: int, expected: int | None = None) -> dict[str, int]:
    """Parameters of a new index: HNSW's graph degree and search breadth, the IVFs' lists and probes, IVF-PQ's
    sub-quantisers.

    IVF indexes are trained on the first batch of vectors and keep those lists as the catalogue grows, so the first
    write should hold a representative batch (``add_dataset`` and the Ray engine make it
    :func:`training_sample_size` for the dataset's size, passed here as ``expected``); IVF-PQ needs at least 256
    (one per PQ code). ``ivfflat``
    stores the vectors as they are, ``ivfsq8`` as 8-bit scalars (a quarter of the memory to scan; the codes cap its
    recall@10 near 0.97 at 1M, see ``benchmarks/results/retrieval_speed.md``).
    """
    if index_type == "flat":
        return {}
    if index_type in ("ivfflat", "ivfsq8"):
        nlist = ivf_lists(n_train, expected)
        return {"nlist": nlist, "nprobe": min(nlist, max(IVF_MIN_NPROBE, round(nlist * IVF_NPROBE_SHARE)))}
    if index_type == "hnsw":
        return {"M": 32, "efConstruction": 80, "efSearch": 64}
    if index_type == "ivfpq":
        if n_train < 256:
            raise ConfigError(f"an ivfpq index needs at least 256 cases in the first batch, got {n_train}; use flat")
        nlist = max(1, min(int(4 * math.sqrt(max(expected or n_train, n_train))), n_train // 39))
        m = max(d for d in range(1, min(64, dim) + 1) if dim % d == 0)
        return {"nlist": nlist, "m": m, "nbits": 8, "nprobe": min(nlist, 16)}
    raise ConfigError(f"unknown index type {index_type!r}; use one of {', '.join(INDEX_TYPES)}")


def new_index(dim: int, metric: str, index_type: str, params: dict[str, int], train: np.ndarray) -> faiss.Index:
    """An empty FAISS index whose labels are case ids; IVF indexes are trained here on ``train`` (the first batch).

    Flat and HNSW are wrapped in ``IndexIDMap2``; IVF indexes store the case ids themselves, because an ``IndexIDMap``
    over an IVF returns wrong ids after a removal (the map is compacted, the IVF keeps the old positions).
    """
    mt = faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2
    if index_type in IVF_TYPES:
        index = _new_ivf(dim, mt, index_type, params, np.ascontiguousarray(train, np.float32))
        apply_search_params(index, params)
        return index
    if index_type == "flat":
        base = faiss.IndexFlat(dim, mt)
    else:
        base = faiss.IndexHNSWFlat(dim, params["M"], mt)
        base.hnsw.efConstruction = params["efConstruction"]
    index = faiss.IndexIDMap2(base)
    index.own_fields = True
    base.this.disown()
    apply_search_params(index, params)
    return index


def _new_ivf(dim: int, mt: int, index_type: str, params: dict[str, int], train: np.ndarray) -> faiss.IndexIVF:
    """A trained, empty IVF-Flat / IVF-SQ8 / IVF-PQ with a flat coarse quantiser (owned by the index)."""
    quantizer = faiss.IndexFlat(dim, mt)
    if index_type == "ivfflat":
        index = faiss.IndexIVFFlat(quantizer, dim, params["nlist"], mt)
    elif index_type == "ivfsq8":
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, params["nlist"], faiss.ScalarQuantizer.QT_8bit, mt)
    else:
        index = faiss.IndexIVFPQ(quantizer, dim, params["nlist"], params["m"], params["nbits"], mt)
    index.train(train)
    index.own_fields = True
    quantizer.this.disown()
    return index


def _unwrap_ivf(index: faiss.IndexIDMap) -> faiss.IndexIVF:
    """The IVF inside an ``IndexIDMap`` (as ``ivfpq`` catalogues were written), relabelled with the case ids, so that
    removals keep ids right (see :func:`new_index`)."""
    ivf = faiss.downcast_index(index.index)
    id_map = faiss.vector_to_array(index.id_map).astype(np.int64)
    lists = ivf.invlists
    for list_no in range(ivf.nlist):
        size = lists.list_size(list_no)
        if size:
            labels = faiss.rev_swig_ptr(lists.get_ids(list_no), size)  # a view on the list's id array
            labels[:] = id_map[labels]
    index.own_fields = False
    ivf.this.own(True)
    return ivf


def apply_search_params(index: faiss.Index, params: dict[str, int]) -> None:
    """Search-time knobs are not stored in FAISS files: set them after every load."""
    base = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index
    if "efSearch" in params:
        base.hnsw.efSearch = params["efSearch"]
    if "nprobe" in params:
        base.nprobe = params["nprobe"]


def scores_from_distances(distances: np.ndarray, metric: str) -> np.ndarray:
    """Higher is more similar: cosine clamped to [-1, 1] for ``ip``; minus the Euclidean distance for ``l2``."""
    if metric == "ip":
        return np.clip(distances, -1.0, 1.0)
    return -np.sqrt(np.maximum(distances, 0.0))


def remove_from_index(index: faiss.Index, ids: Sequence[int], row: dict[str, Any]) -> faiss.Index:
    """``index`` without ``ids``; HNSW graphs cannot delete, so those are rebuilt from the remaining vectors."""
    wanted = np.asarray(ids, np.int64)
    if isinstance(index, faiss.IndexIDMap) and isinstance(faiss.downcast_index(index.index), faiss.IndexIVF):
        index = _unwrap_ivf(index)
    try:
        index.remove_ids(wanted)
        return index
    except RuntimeError:
        pass
    all_ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    keep = all_ids[~np.isin(all_ids, wanted)]
    vectors = np.stack([index.reconstruct(int(i)) for i in keep]) if len(keep) else np.zeros((0, row["dim"]))
    fresh = new_index(row["dim"], row["metric"], row["index_type"], row["params"], vectors)
    if len(keep):
        fresh.add_with_ids(np.ascontiguousarray(vectors, np.float32), keep)
    return fresh
