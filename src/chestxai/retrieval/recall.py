"""Recall of an approximate catalogue index against exhaustive search, measured when the index is written.

An approximate index (IVF, HNSW) trades recall for speed, and how much depends on the data: on uniform random vectors
an IVF finds a few percent of the true neighbours, on real embeddings nearly all
(``benchmarks/results/retrieval_speed.md``). So the catalogue records the recall it actually delivers on its own
vectors, measured on a sample of the vectors just added, instead of a figure from elsewhere. It is measured when
the index is created and again whenever it has grown by ``REMEASURE_GROWTH_PCT`` percent since the last
measurement, not at every write: a measurement scans the whole index once per query (100 scans: seconds at a
million vectors), and the service adds cases one at a time.

The truth is an exhaustive scan of the same index's stored vectors (every IVF list probed, or HNSW's flat storage
scanned): for ``ivfflat`` and ``hnsw`` that is exact search; for ``ivfsq8``/``ivfpq`` it is exact search over the
stored codes, so the figure is the search's loss and not the codes' (measured in the speed benchmark). Each query
is a stored vector, so its own id is dropped from both lists before comparing (else the trivial self-match would
count as a found neighbour).
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

RECALL_K = 10
RECALL_QUERIES = 100
REMEASURE_GROWTH_PCT = 10  # re-measure once the index holds 10% more vectors than at the last measurement


def recall_due(record: dict[str, Any] | None, index_type: str, ntotal: int) -> bool:
    """Whether a write that leaves ``ntotal`` vectors should measure recall again (see the module docstring).

    An exact index is always 'measured' (it costs nothing and keeps the vector count current); an approximate one
    when it has no record yet (new index, or a catalogue from before recall was recorded) or has grown by 10%.
    """
    if index_type == "flat" or not record:
        return True
    return 100 * ntotal >= (100 + REMEASURE_GROWTH_PCT) * int(record.get("vectors", 0))  # integers: no 1.1*100 drift


def _ivf_of(index: faiss.Index) -> faiss.IndexIVF | None:
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index
    return inner if isinstance(inner, faiss.IndexIVF) else None


def exhaustive_search(index: faiss.Index, queries: np.ndarray, k: int) -> np.ndarray:
    """Ids ``[q, k]`` of the true nearest stored vectors of ``index`` (flat, HNSW or IVF, with case-id labels)."""
    ivf = _ivf_of(index)
    if ivf is not None:
        nprobe = ivf.nprobe
        ivf.nprobe = ivf.nlist  # every list probed: the scan no longer depends on the coarse quantiser
        try:
            return index.search(queries, k)[1]
        finally:
            ivf.nprobe = nprobe
    inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexHNSW):
        positions = faiss.downcast_index(inner.storage).search(queries, k)[1]
        id_map = faiss.vector_to_array(index.id_map).astype(np.int64)
        return np.where(positions >= 0, id_map[np.clip(positions, 0, None)], -1)
    return index.search(queries, k)[1]  # flat: already exact


def recall_at_k(found: np.ndarray, truth: np.ndarray, query_ids: np.ndarray, k: int) -> float:
    """Mean over queries of |found ∩ truth| / |truth| on the first ``k`` ids other than the query's own."""
    shares = []
    for f, t, own in zip(found, truth, query_ids):
        t_ids = [i for i in t if i >= 0 and i != own][:k]
        f_ids = [i for i in f if i >= 0 and i != own][:k]
        if t_ids:
            shares.append(len(set(f_ids) & set(t_ids)) / len(t_ids))
    return float(np.mean(shares)) if shares else 1.0


def build_recall(index: faiss.Index, index_type: str, vectors: np.ndarray, ids: np.ndarray,
                 k: int = RECALL_K, n_queries: int = RECALL_QUERIES, seed: int = 0) -> dict[str, Any]:
    """Recall@k of ``index`` against exhaustive search, queried with a sample of ``vectors`` (stored under ``ids``).

    Returns the record kept in the catalogue: ``{"recall_at_k", "k", "queries", "vectors", "truth"}``; an exact
    (``flat``) index is recall 1 by construction and is not measured.
    """
    record: dict[str, Any] = {"k": k, "vectors": int(index.ntotal)}
    if index_type == "flat":
        return {**record, "recall_at_k": 1.0, "queries": 0, "truth": "exact index"}
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(vectors), size=min(n_queries, len(vectors)), replace=False))
    queries = np.ascontiguousarray(vectors[pick], np.float32)
    depth = min(k + 1, int(index.ntotal))
    truth = exhaustive_search(index, queries, depth)
    found = index.search(queries, depth)[1]
    recall = recall_at_k(found, truth, np.asarray(ids)[pick], k)
    truth_kind = "exhaustive scan of the stored codes" if index_type in ("ivfsq8", "ivfpq") else "exact search"
    return {**record, "recall_at_k": round(recall, 4), "queries": int(len(pick)), "truth": truth_kind}


def describe(record: dict[str, Any] | None) -> str:
    """One line for the CLI: 'recall@10 0.982 (100 queries, 12,000 vectors, vs exact search)'."""
    if not record:
        return "recall not measured (catalogue written before chestxai recorded it; re-index to measure)"
    if record.get("truth") == "exact index":
        return "exact search (recall 1 by construction)"
    return (f"recall@{record['k']} {record['recall_at_k']:.3f} ({record['queries']} queries, "
            f"{record['vectors']:,} vectors, vs {record['truth']})")
