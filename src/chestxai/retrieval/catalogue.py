"""A hospital's own case catalogue on disk: SQLite for the cases, one FAISS index per embedder, thumbnails.

Layout of a catalogue folder::

    catalogue.sqlite          cases (id, content hash, image, labels, boxes, report, view, thumbnail),
                              embedders (name, model hash, dim, metric, index type + params, current index file),
                              vectors (which case has a vector in which embedder's index)
    indexes/<name>.<gen>.faiss   the vectors of embedder <name>, generation <gen> (FAISS ids = case ids)
    thumbnails/<hash>.png     a small grey thumbnail per case (display, and the pixels the SSIM baseline compares)

Why it survives an interruption: every write makes a *new* index generation (written to a temporary file, fsynced,
renamed), and only then commits the database rows that point at it (the new cases, their vector rows, the
embedder's current file). A crash before the commit leaves the database pointing at the previous, intact
generation: the catalogue loads as it was, the orphan file is deleted by the next write, and re-running the same
``index`` command resumes, because adding is idempotent by content hash.

Privacy: a case holds pixels (thumbnail, vectors) and clinical labels only. Patient ids, names, dates and other
DICOM header fields are never read into it, and a DICOM's file path is not kept either (file names often carry the
patient): such a case points at its thumbnail.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import faiss
import numpy as np

from chestxai.data.atomic import atomic_path
from chestxai.data.cache import cache_images
from chestxai.data.datasets.base import CXRDataset
from chestxai.data.io import DICOM_SUFFIXES, file_sha256, read_image
from chestxai.data.preprocess import Preprocess
from chestxai.errors import ConfigError, DataFormatError
from chestxai.retrieval.embedders import Embedder, SSIMScorer
from chestxai.retrieval.indexes import (
    apply_search_params, index_params, new_index, remove_from_index, scores_from_distances, training_sample_size,
)
from chestxai.retrieval.recall import build_recall, recall_due

DB_NAME = "catalogue.sqlite"
THUMB_SIZE = 128
THUMB_PRE = Preprocess(THUMB_SIZE)
SCHEMA_VERSION = 2  # 2: embedders.recall (the index's recall at its last measurement)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY, content_hash TEXT UNIQUE NOT NULL, image TEXT NOT NULL, labels TEXT NOT NULL,
    boxes TEXT NOT NULL, report TEXT NOT NULL, view TEXT NOT NULL, thumbnail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS embedders (
    name TEXT PRIMARY KEY, model_hash TEXT NOT NULL, dim INTEGER NOT NULL, metric TEXT NOT NULL,
    index_type TEXT NOT NULL, params TEXT NOT NULL, index_file TEXT, generation INTEGER NOT NULL, recall TEXT);
CREATE TABLE IF NOT EXISTS vectors (
    embedder TEXT NOT NULL, case_id INTEGER NOT NULL REFERENCES cases(id), PRIMARY KEY (embedder, case_id));
"""


@dataclass
class Case:
    """One catalogue entry: what a search returns next to its score."""

    id: int
    image: str
    content_hash: str
    labels: dict[str, int | None]
    boxes: list[dict[str, Any]]
    report: str
    view: str
    thumbnail: str

    def to_json(self, score: float | None = None) -> dict[str, Any]:
        """The ``search --json`` shape: ``{"case", "image", "score", "labels"}``."""
        out: dict[str, Any] = {"case": self.id, "image": self.image}
        if score is not None:
            out["score"] = round(float(score), 6)
        out["labels"] = dict(self.labels)
        return out

    def pixels(self) -> np.ndarray:
        """The case's image, decoded: its file, or its thumbnail when the file is gone (or was never kept)."""
        return read_image(self.image if self.image and Path(self.image).is_file() else self.thumbnail)


@dataclass
class NewCase:
    """A case to add: pixels in the embedder's input form (None when its vector was computed elsewhere, see
    :meth:`Catalogue.add_vectors`), its thumbnail (uint8 ``THUMB_SIZE`` squared, made as :func:`thumbnail_of` makes
    it), content hash, labels and optional extras."""

    pixels: np.ndarray | None
    thumbnail: np.ndarray
    content_hash: str
    image: str
    labels: dict[str, int | None] = field(default_factory=dict)
    boxes: list[dict[str, Any]] = field(default_factory=list)
    report: str = ""
    view: str = ""


@dataclass
class AddReport:
    """What an ``index`` run did: new cases, cases already present (skipped), unreadable files."""

    added: int = 0
    skipped: int = 0
    errors: dict[str, str] = field(default_factory=dict)

    def merge(self, other: "AddReport") -> None:
        self.added += other.added
        self.skipped += other.skipped
        self.errors.update(other.errors)

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "skipped": self.skipped, "unreadable": len(self.errors)}


def thumbnail_of(image: np.ndarray) -> np.ndarray:
    """A decoded image as its catalogue thumbnail; the SSIM query goes through the same path, so a catalogue image
    searched for itself scores exactly 1."""
    return THUMB_PRE.resize_uint8(image)


class Catalogue:
    """A case catalogue folder (created on first use). Methods mirror the CLI: add, remove, search, info."""

    def __init__(self, root: str | Path, create: bool = True) -> None:
        self.root = Path(root)
        if not (self.root / DB_NAME).is_file():
            if not create:
                raise DataFormatError(f"{self.root}: not a catalogue (no {DB_NAME}); build one with `chestxai index`")
            self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "indexes").mkdir(exist_ok=True)
        (self.root / "thumbnails").mkdir(exist_ok=True)
        self.db = sqlite3.connect(self.root / DB_NAME, isolation_level=None, timeout=60.0)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        self._migrate()
        self._indexes: dict[str, tuple[int, faiss.Index]] = {}
        self._ssim_cache: tuple[tuple[int, ...], np.ndarray] | None = None

    def _migrate(self) -> None:
        """Bring a catalogue written by an older chestxai to this schema (columns are only ever added); an
        up-to-date catalogue is not written to, so opening one to read leaves its files untouched."""
        row = self.db.execute("SELECT value FROM info WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) >= SCHEMA_VERSION:
            return
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(embedders)")}
        if "recall" not in columns:
            self.db.execute("ALTER TABLE embedders ADD COLUMN recall TEXT")
        self.db.execute("INSERT OR REPLACE INTO info VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Catalogue":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ---------------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM cases").fetchone()[0])

    def embedders(self) -> list[dict[str, Any]]:
        """Each indexed embedder: name, model hash, dim, metric, index type and parameters, vector count, and the
        index's recall as last measured (:mod:`chestxai.retrieval.recall`; None if never measured)."""
        rows = self.db.execute(
            "SELECT e.name, e.model_hash, e.dim, e.metric, e.index_type, e.params, "
            "(SELECT COUNT(*) FROM vectors v WHERE v.embedder = e.name), e.recall FROM embedders e ORDER BY e.name"
        ).fetchall()
        keys = ("name", "model_hash", "dim", "metric", "index_type", "params", "vectors", "recall")
        return [dict(zip(keys, r[:5] + (json.loads(r[5]), r[6], json.loads(r[7]) if r[7] else None))) for r in rows]

    def info(self) -> dict[str, Any]:
        """``{"cases": n, "embedders": [names]}`` (the ``catalogue-info --json`` shape)."""
        return {"cases": len(self), "embedders": [e["name"] for e in self.embedders()]}

    def case_ids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM cases ORDER BY id")]

    def cases(self, ids: Sequence[int] | None = None) -> list[Case]:
        """The cases ``ids`` in that order (all cases by id when None); unknown ids are skipped."""
        cols = "id, image, content_hash, labels, boxes, report, view, thumbnail"
        if ids is None:
            rows = self.db.execute(f"SELECT {cols} FROM cases ORDER BY id").fetchall()
            return [self._case(r) for r in rows]
        wanted = [int(i) for i in ids]
        found: dict[int, Case] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.db.execute(f"SELECT {cols} FROM cases WHERE id IN ({marks})", chunk):
                found[r[0]] = self._case(r)
        return [found[i] for i in wanted if i in found]

    def _case(self, row: tuple) -> Case:
        thumb = str(self.root / row[7])
        return Case(row[0], row[1] or thumb, row[2], json.loads(row[3]), json.loads(row[4]), row[5], row[6], thumb)

    def committed_hashes(self, embedder_name: str) -> set[str]:
        """Content hashes of the cases that already have a vector of ``embedder_name`` (a re-run skips them)."""
        rows = self.db.execute(
            "SELECT c.content_hash FROM cases c JOIN vectors v ON v.case_id = c.id WHERE v.embedder = ?",
            (embedder_name,),
        )
        return {r[0] for r in rows}

    def find_hash(self, content_hash: str) -> int | None:
        row = self.db.execute("SELECT id FROM cases WHERE content_hash = ?", (content_hash,)).fetchone()
        return None if row is None else int(row[0])

    def _embedder_row(self, name: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT name, model_hash, dim, metric, index_type, params, index_file, generation, recall FROM embedders "
            "WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        keys = ("name", "model_hash", "dim", "metric", "index_type", "params", "index_file", "generation", "recall")
        out = dict(zip(keys, row))
        out["params"] = json.loads(out["params"])
        out["recall"] = json.loads(out["recall"]) if out["recall"] else None
        return out

    def index(self, name: str) -> faiss.Index:
        """The current FAISS index of embedder ``name`` (loaded once per generation)."""
        row = self._embedder_row(name)
        if row is None or not row["index_file"]:
            indexed = ", ".join(e["name"] for e in self.embedders()) or "none"
            raise ConfigError(f"{self.root}: no '{name}' vectors in this catalogue (indexed: {indexed})")
        cached = self._indexes.get(name)
        if cached is None or cached[0] != row["generation"]:
            index = faiss.read_index(str(self.root / "indexes" / row["index_file"]))
            apply_search_params(index, row["params"])
            self._indexes[name] = (row["generation"], index)
        return self._indexes[name][1]

    # --- searching -------------------------------------------------------------------------------------------------

    def search_vectors(self, name: str, vectors: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Case ids ``[q, k']`` and scores (higher = more similar) of the nearest vectors; ``k' = min(k, n)``."""
        row = self._embedder_row(name)
        index = self.index(name)
        k = max(0, min(int(k), index.ntotal))
        q = np.ascontiguousarray(vectors, np.float32).reshape(-1, row["dim"])
        if k == 0:
            return np.zeros((len(q), 0), np.int64), np.zeros((len(q), 0), np.float32)
        distances, ids = index.search(q, k)
        return ids, scores_from_distances(distances, row["metric"])

    def search(self, image: np.ndarray, embedder: Embedder, k: int = 10) -> list[tuple[Case, float]]:
        """The ``k`` most similar cases to one decoded image, best first, by ``embedder``'s vectors."""
        self._check_embedder(embedder, self._embedder_row(embedder.name))
        ids, scores = self.search_vectors(embedder.name, embedder.embed([image]), k)
        keep = ids[0] >= 0
        return list(zip(self.cases(ids[0][keep].tolist()), scores[0][keep].tolist()))

    def search_ssim(self, image: np.ndarray, k: int = 10, scorer: SSIMScorer | None = None) -> list[tuple[Case, float]]:
        """Brute-force SSIM of one decoded image against every case's thumbnail, highest first."""
        scorer = scorer or SSIMScorer()
        ids, pixels = self._ssim_pixels(scorer)
        if not ids:
            return []
        scores = scorer.score(thumbnail_of(image), pixels)
        order = np.argsort(-scores, kind="stable")[: max(0, int(k))]
        return list(zip(self.cases([ids[i] for i in order]), scores[order].tolist()))

    def _ssim_pixels(self, scorer: SSIMScorer) -> tuple[list[int], np.ndarray]:
        """Thumbnails of all cases on the SSIM grid, read once per catalogue state."""
        cases = self.cases()
        key = tuple(c.id for c in cases)
        if self._ssim_cache is None or self._ssim_cache[0] != key:
            thumbs = [cv2.imread(c.thumbnail, cv2.IMREAD_GRAYSCALE) for c in cases]
            missing = [c.thumbnail for c, t in zip(cases, thumbs) if t is None]
            if missing:
                raise DataFormatError(f"{self.root}: thumbnail missing or unreadable: {missing[0]}")
            self._ssim_cache = (key, scorer.pixels(thumbs))
        return list(key), self._ssim_cache[1]

    # --- writing ---------------------------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction (exclusive among writers); rolled back on any error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._commit()
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def _commit(self) -> None:
        """The moment a write becomes visible; separate so tests can simulate a crash just before it."""
        self.db.execute("COMMIT")

    def _check_embedder(self, embedder: Embedder, row: dict[str, Any] | None) -> None:
        if row is None:
            return
        if row["model_hash"] != embedder.model_hash or row["dim"] != embedder.dim or row["metric"] != embedder.metric:
            raise ConfigError(
                f"{self.root}: its '{row['name']}' vectors were made by another model ({row['model_hash']}); "
                f"search with that model or index into a new catalogue"
            )

    def _ensure_embedder(self, embedder: Embedder, index_type: str | None, n_first: int,
                         expected: int | None = None) -> dict[str, Any]:
        row = self._embedder_row(embedder.name)
        self._check_embedder(embedder, row)
        if row is not None:
            if index_type is not None and index_type != row["index_type"]:
                raise ConfigError(f"{self.root}: the '{row['name']}' index is {row['index_type']}, not {index_type}")
            return row
        kind = index_type or "flat"
        params = index_params(kind, embedder.dim, n_first, expected)
        self.db.execute(
            "INSERT INTO embedders (name, model_hash, dim, metric, index_type, params, index_file, generation) "
            "VALUES (?, ?, ?, ?, ?, ?, NULL, 0)",
            (embedder.name, embedder.model_hash, embedder.dim, embedder.metric, kind, json.dumps(params)),
        )
        return self._embedder_row(embedder.name)  # type: ignore[return-value]

    def _load_or_new_index(self, row: dict[str, Any], first_vectors: np.ndarray) -> faiss.Index:
        if row["index_file"]:
            return faiss.read_index(str(self.root / "indexes" / row["index_file"]))
        return new_index(row["dim"], row["metric"], row["index_type"], row["params"], first_vectors)

    def _write_index(self, index: faiss.Index, name: str, generation: int) -> str:
        """Write generation ``generation`` of ``name``'s index durably (temp file, fsync, rename); its file name."""
        final = self.root / "indexes" / f"{name}.{generation:06d}.faiss"
        with atomic_path(final, durable=True) as tmp:
            faiss.write_index(index, str(tmp))
        return final.name

    def _publish(self, row: dict[str, Any], index: faiss.Index, case_ids: Sequence[int],
                 recall: dict[str, Any] | None = None) -> str:
        """Write the next generation, then record it, its vector rows and (when measured) its recall; committed by
        the caller's transaction."""
        generation = row["generation"] + 1
        file_name = self._write_index(index, row["name"], generation)
        self.db.execute(
            "UPDATE embedders SET index_file = ?, generation = ? WHERE name = ?", (file_name, generation, row["name"])
        )
        if recall is not None:
            self.db.execute("UPDATE embedders SET recall = ? WHERE name = ?", (json.dumps(recall), row["name"]))
        self.db.executemany(
            "INSERT OR IGNORE INTO vectors VALUES (?, ?)", [(row["name"], int(i)) for i in case_ids]
        )
        return file_name

    def _sweep(self) -> None:
        """Delete index files no committed row points at (left by a crash or superseded); call inside a write."""
        live = {r[0] for r in self.db.execute("SELECT index_file FROM embedders WHERE index_file IS NOT NULL")}
        for path in (self.root / "indexes").iterdir():
            if path.name not in live:
                path.unlink(missing_ok=True)

    def _write_thumbnail(self, thumbnail: np.ndarray, content_hash: str) -> str:
        """Named by content, so a thumbnail left by an interrupted run is simply reused."""
        rel = f"thumbnails/{content_hash[:32]}.png"
        path = self.root / rel
        if not path.exists():
            with atomic_path(path) as tmp:
                cv2.imwrite(str(tmp), np.asarray(thumbnail, np.uint8))
        return rel

    def _case_ids_for(self, items: Sequence[NewCase], embedder_name: str) -> tuple[list[int], list[int], int]:
        """Insert the new cases; the ids needing a vector, the positions of ``items`` they came from, the skips."""
        ids: list[int] = []
        positions: list[int] = []
        seen: set[str] = set()
        for pos, item in enumerate(items):
            if item.content_hash in seen:
                continue
            seen.add(item.content_hash)
            case_id = self.find_hash(item.content_hash)
            if case_id is None:
                thumb = self._write_thumbnail(item.thumbnail, item.content_hash)
                cur = self.db.execute(
                    "INSERT INTO cases (content_hash, image, labels, boxes, report, view, thumbnail) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (item.content_hash, item.image, json.dumps(item.labels), json.dumps(item.boxes), item.report,
                     item.view, thumb),
                )
                case_id = int(cur.lastrowid)
            elif self.db.execute(
                "SELECT 1 FROM vectors WHERE embedder = ? AND case_id = ?", (embedder_name, case_id)
            ).fetchone():
                continue
            ids.append(case_id)
            positions.append(pos)
        return ids, positions, len(items) - len(ids)

    def add(self, items: Sequence[NewCase], embedder: Embedder, index_type: str | None = None,
            expected: int | None = None) -> AddReport:
        """Add ``items`` in one transaction, embedding their pixels; cases already holding a vector of this embedder
        are skipped (and not embedded).

        ``expected``: the size the catalogue is being built to (sizes a new IVF index's lists); the index's recall
        against exhaustive search is measured on the added vectors and recorded with it when due (:func:`recall_due`:
        a new index, or one grown by 10% since it was last measured).
        """
        return self._add(items, embedder, index_type, expected,
                         lambda positions: embedder.embed([items[p].pixels for p in positions]))

    def add_vectors(self, cases: Sequence[NewCase], vectors: np.ndarray, embedder: Embedder,
                    index_type: str | None = None, expected: int | None = None) -> AddReport:
        """As :meth:`add`, with ``vectors[i]`` of ``cases[i]`` already computed by ``embedder`` elsewhere (the Ray
        engine's actors): the same transaction, skips and index generations; ``embedder`` gives their identity."""
        vectors = np.ascontiguousarray(vectors, np.float32).reshape(len(cases), -1)
        return self._add(cases, embedder, index_type, expected, lambda pos: vectors[list(pos)])

    def _add(self, items: Sequence[NewCase], embedder: Embedder, index_type: str | None, expected: int | None,
             vectors_of: Callable[[list[int]], np.ndarray]) -> AddReport:
        with self._write():
            self._sweep()
            row = self._ensure_embedder(embedder, index_type, len(items), expected)
            ids, positions, skipped = self._case_ids_for(items, embedder.name)
            if not ids:
                return AddReport(0, skipped)
            vectors = np.ascontiguousarray(vectors_of(positions), np.float32)
            index = self._load_or_new_index(row, vectors)
            index.add_with_ids(vectors, np.asarray(ids, np.int64))
            due = recall_due(row["recall"], row["index_type"], int(index.ntotal))
            recall = build_recall(index, row["index_type"], vectors, np.asarray(ids)) if due else None
            self._publish(row, index, ids, recall)
        self._drop_superseded(row)
        return AddReport(len(ids), skipped)

    def _drop_superseded(self, old_row: dict[str, Any]) -> None:
        if old_row["index_file"]:
            (self.root / "indexes" / old_row["index_file"]).unlink(missing_ok=True)
        self._indexes.pop(old_row["name"], None)

    def add_dataset(
        self,
        dataset: CXRDataset,
        embedder: Embedder,
        index_type: str | None = None,
        chunk_size: int = 256,
        log: Callable[[str], None] | None = None,
    ) -> AddReport:
        """Add every readable image of ``dataset`` with its labels and boxes, ``chunk_size`` cases per commit.

        Images go through the shared image cache twice, at the embedder's input size and at the thumbnail size (a
        second decode the first time only); an interrupted run keeps every committed chunk, and the next run skips
        them by content hash.
        """
        cached = cache_images(dataset, embedder.preprocess)
        thumbs = cache_images(dataset, THUMB_PRE)
        report = AddReport(errors={dataset.paths[i]: e for i, e in cached.errors.items()})
        rows = np.flatnonzero(cached.valid & thumbs.valid)
        boxes = boxes_by_path(dataset)
        first = self.first_write_size(embedder.name, index_type, len(rows), chunk_size)
        for start, stop in _chunks(len(rows), first, chunk_size):
            items = [case_from_row(dataset, int(i), np.asarray(cached.images[i]), np.asarray(thumbs.images[i]), boxes)
                     for i in rows[start:stop]]
            report.merge(self.add(items, embedder, index_type, expected=len(rows)))
            if log:
                log(f"indexed {stop}/{len(rows)} images")
        return report

    def first_write_size(self, embedder_name: str, index_type: str | None, expected: int, chunk_size: int) -> int:
        """Cases in the first commit of a run: ``chunk_size``, or more when it creates an IVF index, whose lists
        are trained on that first commit (:func:`training_sample_size` for the ``expected`` catalogue size)."""
        if self._embedder_row(embedder_name) is not None:
            return chunk_size
        return max(chunk_size, training_sample_size(index_type, expected))

    def add_image(
        self,
        path: str | Path,
        embedder: Embedder,
        labels: dict[str, int | None] | None = None,
        report: str = "",
        index_type: str | None = None,
    ) -> AddReport:
        """Add one image file (decoded here) with optional labels and report text."""
        image = read_image(path)
        pixels = embedder.preprocess.resize_uint8(image)
        item = NewCase(pixels, thumbnail_of(image), file_sha256(path), stored_path(str(path)), dict(labels or {}), [],
                       report)
        return self.add([item], embedder, index_type)

    def remove(self, case_ids: Sequence[int]) -> int:
        """Remove cases from the database and from every embedder's index (one transaction); the number removed."""
        ids = [i for i in {int(c) for c in case_ids} if self.db.execute(
            "SELECT 1 FROM cases WHERE id = ?", (i,)).fetchone()]
        if not ids:
            return 0
        old_rows = []
        with self._write():
            self._sweep()
            for row in (self._embedder_row(e["name"]) for e in self.embedders()):
                if row is None or not row["index_file"]:
                    continue
                index = remove_from_index(self._load_or_new_index(row, np.zeros((0, row["dim"]))), ids, row)
                self._publish(row, index, [])
                old_rows.append(row)
            marks = ",".join("?" * len(ids))
            self.db.execute(f"DELETE FROM vectors WHERE case_id IN ({marks})", ids)
            self.db.execute(f"DELETE FROM cases WHERE id IN ({marks})", ids)
        for row in old_rows:
            self._drop_superseded(row)
        return len(ids)


def _chunks(n: int, first: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of a first chunk of ``first`` items, then chunks of ``size``, over ``n`` items."""
    start = 0
    while start < n:
        stop = min(n, start + (first if start == 0 else size))
        yield start, stop
        start = stop


def stored_path(path: str) -> str:
    """The image path kept in the catalogue: none for DICOM (file names often carry the patient)."""
    return "" if path.lower().endswith(DICOM_SUFFIXES) else str(path)


def boxes_by_path(dataset: CXRDataset) -> dict[str, list[dict[str, Any]]]:
    """The dataset's boxes per image path, in the catalogue's form."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in dataset.boxes.itertuples(index=False):
        out.setdefault(str(r.path), []).append(
            {"finding": str(r.finding), "x": float(r.x), "y": float(r.y), "w": float(r.w), "h": float(r.h)}
        )
    return out


def _labels_of(dataset: CXRDataset, row: int) -> dict[str, int | None]:
    return {f: (None if np.isnan(v) else int(v)) for f, v in zip(dataset.findings, dataset.labels[row])}


def case_from_row(dataset: CXRDataset, row: int, pixels: np.ndarray | None, thumbnail: np.ndarray,
                  boxes: dict[str, list], content_hash: str | None = None) -> NewCase:
    """A dataset row as a new case: only pixels, labels, boxes, report text and view are taken from it
    (``content_hash``: the file's, when the caller already hashed it; ``boxes``: :func:`boxes_by_path`)."""
    meta = dataset.meta.iloc[row]
    path = str(meta["path"])
    report = meta.get("report", "")
    return NewCase(
        pixels=pixels,
        thumbnail=thumbnail,
        content_hash=content_hash or file_sha256(path),
        image=stored_path(path),
        labels=_labels_of(dataset, row),
        boxes=boxes.get(path, []),
        report="" if not isinstance(report, str) else report,
        view=str(meta.get("view", "") or ""),
    )


def open_catalogue(root: str | Path, create: bool = False) -> Catalogue:
    """Open an existing catalogue (``create=False`` makes a missing one a user error)."""
    return Catalogue(root, create=create)


__all__ = ["AddReport", "Case", "Catalogue", "NewCase", "boxes_by_path", "case_from_row", "open_catalogue",
           "stored_path"]
