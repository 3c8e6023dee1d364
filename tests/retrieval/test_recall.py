"""Build-time recall of approximate indexes: the measurement itself, and that the catalogue records it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import faiss
import numpy as np
import pytest

from chestxai.retrieval.catalogue import Catalogue, _chunks
from chestxai.retrieval.indexes import ivf_lists, training_sample_size
from chestxai.retrieval.recall import build_recall, describe, exhaustive_search, recall_at_k, recall_due
from test_index_types import DIM, TableEmbedder, cases, clustered


def uniform(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_ids(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ base.T), axis=1, kind="stable")[:, :k]


def ivf(base: np.ndarray, nlist: int, nprobe: int) -> faiss.Index:
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist, faiss.METRIC_INNER_PRODUCT)
    index.train(base)
    index.add_with_ids(base, np.arange(len(base), dtype=np.int64))
    index.nprobe = nprobe
    return index


def hnsw(base: np.ndarray) -> faiss.Index:
    index = faiss.IndexIDMap2(faiss.IndexHNSWFlat(DIM, 8, faiss.METRIC_INNER_PRODUCT))
    index.add_with_ids(base, np.arange(100, 100 + len(base), dtype=np.int64))  # ids != storage positions
    return index


def test_exhaustive_search_is_exact_for_ivf_and_hnsw() -> None:
    base, queries = uniform(2000, 0), uniform(20, 1)
    truth = brute_ids(base, queries, 10)
    index = ivf(base, 32, 1)
    assert (exhaustive_search(index, queries, 10) == truth).all()
    assert index.nprobe == 1  # restored
    assert (exhaustive_search(hnsw(base), queries, 10) == truth + 100).all()


def test_recall_at_k_drops_the_query_itself() -> None:
    truth = np.array([[7, 1, 2, 3]])
    assert recall_at_k(np.array([[7, 1, 2, 9]]), truth, np.array([7]), 3) == pytest.approx(2 / 3)
    assert recall_at_k(np.array([[1, 2, 3, 7]]), truth, np.array([7]), 3) == 1.0


def test_build_recall_matches_an_independent_count() -> None:
    """One probe of 32 lists on uniform vectors misses many true neighbours; the record must say how many."""
    base = uniform(2000, 2)
    index = ivf(base, 32, 1)
    record = build_recall(index, "ivfflat", base[:50], np.arange(50), n_queries=50)
    found = index.search(base[:50], 11)[1]
    truth = brute_ids(base, base[:50], 11)
    expected = np.mean([len(set([i for i in f if i != q][:10]) & set([i for i in t if i != q][:10])) / 10
                        for q, (f, t) in enumerate(zip(found, truth))])
    assert record["recall_at_k"] == pytest.approx(expected, abs=1e-4) and expected < 0.8
    assert record["queries"] == 50 and record["vectors"] == 2000 and record["truth"] == "exact search"
    index.nprobe = 32
    assert build_recall(index, "ivfflat", base[:50], np.arange(50))["recall_at_k"] == 1.0


@pytest.mark.parametrize("index_type", ["flat", "ivfflat", "hnsw"])
def test_catalogue_records_recall_when_the_index_is_written(index_type: str, tmp_path: Path) -> None:
    centres = np.random.default_rng(0).standard_normal((40, DIM))
    base = clustered(1500, 1, centres / np.linalg.norm(centres, axis=1, keepdims=True))
    table = TableEmbedder(base)
    with Catalogue(tmp_path / "cat") as cat:
        cat.add(cases(range(1000)), table, index_type=index_type)
        cat.add(cases(range(1000, 1500)), table)
    with Catalogue(tmp_path / "cat", create=False) as cat:
        (row,) = cat.embedders()
    record = row["recall"]
    assert record["vectors"] == 1500  # measured on the last write, over the whole index
    if index_type == "flat":
        assert record["truth"] == "exact index" and record["recall_at_k"] == 1.0
    else:
        assert record["queries"] == 100 and 0.9 <= record["recall_at_k"] <= 1.0
        assert "recall@10" in describe(record)


def test_recall_is_remeasured_only_after_ten_percent_growth(tmp_path: Path) -> None:
    """A small add (the service's one case) must not rescan the whole index; 10% growth must."""
    centres = np.random.default_rng(0).standard_normal((40, DIM))
    base = clustered(1200, 1, centres / np.linalg.norm(centres, axis=1, keepdims=True))
    table = TableEmbedder(base)

    def measured_at(cat: Catalogue) -> int:
        (row,) = cat.embedders()
        return row["recall"]["vectors"]

    with Catalogue(tmp_path / "cat") as cat:
        cat.add(cases(range(1000)), table, index_type="ivfflat")
        assert measured_at(cat) == 1000
        cat.add(cases(range(1000, 1050)), table)
        cat.add(cases(range(1050, 1099)), table)
        assert measured_at(cat) == 1000  # 9.9% grown: the record stands
        cat.add(cases(range(1099, 1100)), table)
        assert measured_at(cat) == 1100
    assert recall_due(None, "ivfflat", 5) and recall_due({"vectors": 5}, "flat", 5)
    assert not recall_due({"vectors": 100}, "hnsw", 109) and recall_due({"vectors": 100}, "hnsw", 110)


def test_catalogue_of_the_previous_schema_opens_and_gains_the_column(tmp_path: Path) -> None:
    root = tmp_path / "old"
    root.mkdir()
    db = sqlite3.connect(root / "catalogue.sqlite")
    db.executescript("""
        CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO info VALUES ('schema_version', '1');
        CREATE TABLE embedders (name TEXT PRIMARY KEY, model_hash TEXT NOT NULL, dim INTEGER NOT NULL,
            metric TEXT NOT NULL, index_type TEXT NOT NULL, params TEXT NOT NULL, index_file TEXT,
            generation INTEGER NOT NULL);
        INSERT INTO embedders VALUES ('cnn', 'abc', 8, 'ip', 'flat', '{}', NULL, 0);""")
    db.commit()
    db.close()
    with Catalogue(root, create=False) as cat:
        (row,) = cat.embedders()
        assert row["recall"] is None and "not measured" in describe(row["recall"])
        version = cat.db.execute("SELECT value FROM info WHERE key = 'schema_version'").fetchone()[0]
    assert json.loads(version) == 2


def test_ivf_training_sample_is_sized_for_the_expected_catalogue() -> None:
    assert training_sample_size("ivfflat", 1_000_000) == 64 * 1024
    assert ivf_lists(64 * 1024, expected=1_000_000) == 1024  # enough training vectors for sqrt(1M) lists
    assert training_sample_size("ivfflat", 500) == 500 and training_sample_size("flat", 10**6) == 0
    assert list(_chunks(10, 4, 3)) == [(0, 4), (4, 7), (7, 10)]
