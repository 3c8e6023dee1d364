"""Approximate index types of the catalogue: recall against exact search on clustered vectors, parameters kept.

A table embedder stands in for a network: each case's "pixels" are its row number in a fixed matrix of vectors, so
the catalogue machinery (first-batch training, id map, generations, reload) runs on vectors whose neighbours are
known.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from chestxai.data.preprocess import Preprocess
from chestxai.retrieval.catalogue import Catalogue, NewCase
from chestxai.retrieval.indexes import index_params, remove_from_index
from chestxai.retrieval.embedders import Embedder

DIM = 64
IVF_TYPES = ["ivfflat", "ivfsq8"]


class TableEmbedder(Embedder):
    """Returns row ``pixels[0]`` of ``table``: a catalogue test needs known vectors, not a network."""

    name = "table"
    metric = "ip"

    def __init__(self, table: np.ndarray) -> None:  # no model: deliberately not calling Embedder.__init__
        self.table = table

    @property
    def dim(self) -> int:
        return self.table.shape[1]

    @property
    def preprocess(self) -> Preprocess:
        return Preprocess(8)

    @property
    def model_hash(self) -> str:
        return "table"

    def embed(self, images) -> np.ndarray:
        return np.ascontiguousarray(self.table[[int(np.asarray(im).ravel()[0]) for im in images]], np.float32)


def clustered(n: int, seed: int, centres: np.ndarray) -> np.ndarray:
    """Unit vectors around ``centres`` (noise comparable to the spread of a class of real embeddings)."""
    rng = np.random.default_rng(seed)
    x = centres[rng.integers(len(centres), size=n)] + 0.6 * rng.standard_normal((n, DIM)) / np.sqrt(DIM)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def cases(rows: range) -> list[NewCase]:
    thumb = np.zeros((4, 4), np.uint8)
    return [NewCase(np.array([i]), thumb, f"hash{i:06d}", f"case{i}.png") for i in rows]


@pytest.fixture(scope="module")
def vectors() -> tuple[np.ndarray, np.ndarray]:
    centres = np.random.default_rng(0).standard_normal((40, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return clustered(3000, 1, centres), clustered(50, 2, centres)


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))


@pytest.mark.parametrize("index_type", IVF_TYPES)
def test_ivf_recall_against_exact_on_clustered_vectors(vectors, index_type: str, tmp_path: Path) -> None:
    base, queries = vectors
    table = TableEmbedder(base)
    found = {}
    for kind in ("flat", index_type):
        with Catalogue(tmp_path / kind) as cat:
            cat.add(cases(range(2000)), table, index_type=kind)  # the first batch trains the coarse quantiser
            cat.add(cases(range(2000, len(base))), table)
            found[kind] = cat.search_vectors("table", queries, k=10)[0]
    brute = np.argsort(-(queries @ base.T), axis=1, kind="stable")[:, :10] + 1  # case ids start at 1
    assert recall_at_10(found["flat"], brute) == 1.0
    assert recall_at_10(found[index_type], found["flat"]) >= 0.9


@pytest.mark.parametrize("index_type", IVF_TYPES)
def test_ivf_params_are_stored_and_reapplied_after_reload(vectors, index_type: str, tmp_path: Path) -> None:
    base, _ = vectors
    table = TableEmbedder(base)
    with Catalogue(tmp_path / "cat") as cat:
        cat.add(cases(range(1000)), table, index_type=index_type)
    expected = index_params(index_type, DIM, 1000)
    assert expected["nlist"] > 1 and 1 <= expected["nprobe"] <= expected["nlist"]
    with Catalogue(tmp_path / "cat", create=False) as cat:
        (row,) = cat.embedders()
        assert row["index_type"] == index_type and row["params"] == expected
        ivf = faiss.extract_index_ivf(cat.index("table"))
        assert ivf.nlist == expected["nlist"] and ivf.nprobe == expected["nprobe"]
        assert cat.remove([1, 2]) == 2 and cat.index("table").ntotal == 998
        assert faiss.extract_index_ivf(cat.index("table")).nprobe == expected["nprobe"]


def test_ivf_index_params_scale_with_the_first_batch() -> None:
    for kind in IVF_TYPES:
        small, large = index_params(kind, 1024, 24), index_params(kind, 1024, 1_000_000)
        assert small["nlist"] == 1 and small["nprobe"] == 1  # too few cases to train lists: one list = exact
        assert large["nlist"] == 1024 and large["nprobe"] < large["nlist"]


@pytest.mark.parametrize("index_type", [*IVF_TYPES, "ivfpq"])
def test_removal_keeps_the_other_ids_right(vectors, index_type: str, tmp_path: Path) -> None:
    base, _ = vectors
    table = TableEmbedder(base)
    with Catalogue(tmp_path / "cat") as cat:
        cat.add(cases(range(1000)), table, index_type=index_type)
        assert cat.remove([1, 2, 3]) == 3
        ids, _ = cat.search_vectors("table", base[[3, 500, 999]], k=1)
    assert ids[:, 0].tolist() == [4, 501, 1000]  # each remaining vector finds its own case (ids are rows + 1)


def test_legacy_id_map_around_an_ivf_is_relabelled_on_removal(vectors) -> None:
    """Catalogues once stored IVF-PQ inside an IndexIDMap2, whose removal shifted every later id."""
    base, _ = vectors
    quantizer = faiss.IndexFlatIP(DIM)
    ivf = faiss.IndexIVFFlat(quantizer, DIM, 8, faiss.METRIC_INNER_PRODUCT)
    ivf.train(base[:1000])
    legacy = faiss.IndexIDMap2(ivf)
    legacy.add_with_ids(base[:1000], np.arange(1, 1001, dtype=np.int64))
    stored = faiss.deserialize_index(faiss.serialize_index(legacy))  # as read from an index file: owns its IVF
    fixed = remove_from_index(stored, [1, 2, 3], {"dim": DIM})
    faiss.extract_index_ivf(fixed).nprobe = 8
    assert fixed.ntotal == 997
    assert fixed.search(base[[3, 500]], 1)[1][:, 0].tolist() == [4, 501]
