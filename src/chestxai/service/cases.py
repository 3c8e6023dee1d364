"""Adding a confirmed case through the service: the checks of what a client sent, and the write.

The image is kept as a grey 16-bit PNG in the catalogue folder (``uploads/``), so a DICOM's header (the patient) is
never stored; the same file added twice is one case (content hash). Also the start-up check that a catalogue's
vectors were made by the served model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from chestxai.data.atomic import atomic_path
from chestxai.data.findings import canonical_finding
from chestxai.errors import ConfigError
from chestxai.retrieval.catalogue import Catalogue, NewCase, thumbnail_of
from chestxai.retrieval.embedders import Embedder

UPLOADS_DIR = "uploads"  # inside the catalogue folder: the grey PNGs of cases added through the API


def check_catalogue(catalogue: Catalogue, embedder: Embedder) -> None:
    """Refuse at start-up, in plain words, a catalogue whose vectors another model made (search would fail)."""
    for row in catalogue.embedders():
        if row["name"] == embedder.name and row["model_hash"] != embedder.model_hash:
            raise ConfigError(f"{catalogue.root}: its similar-case vectors were made by another model; serve with "
                              f"that model, or index the cases with this one (`chestxai index`)")


def check_labels(labels: Any) -> dict[str, int | None]:
    """``{finding: 0 | 1 | null}`` with canonical finding names; at least one label."""
    if not isinstance(labels, dict) or not labels:
        raise ConfigError('labels must be a JSON object of findings, e.g. {"effusion": 1, "pneumonia": 0}')
    out: dict[str, int | None] = {}
    for name, value in labels.items():
        if value not in (0, 1, None):
            raise ConfigError(f"label of {name!r} must be 0, 1 or null, not {value!r}")
        out[canonical_finding(name)] = None if value is None else int(value)
    return out


def check_boxes(boxes: Any, shape: tuple[int, int]) -> list[dict[str, Any]]:
    """Each box ``{"finding", "x", "y", "w", "h"}`` in the image's pixels, inside the image."""
    if isinstance(boxes, dict):
        boxes = [boxes]
    if not isinstance(boxes, (list, tuple)):
        raise ConfigError('box must be a JSON object {"finding": ..., "x": ..., "y": ..., "w": ..., "h": ...}')
    height, width = shape
    out = []
    for box in boxes:
        try:
            x, y, w, h = (float(box[key]) for key in ("x", "y", "w", "h"))
            finding = canonical_finding(box["finding"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError('a box needs "finding", "x", "y", "w" and "h" (numbers, image pixels)') from None
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
            raise ConfigError(f"box {x:g},{y:g} {w:g}x{h:g} is not inside the {width} x {height} image")
        out.append({"finding": finding, "x": x, "y": y, "w": w, "h": h})
    return out


def store_image(image: np.ndarray, path: Path) -> Path:
    """Write a decoded image as a 16-bit grey PNG (read back exactly by ``read_image``), atomically."""
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), np.rint(np.clip(image, 0.0, 1.0) * 65535.0).astype(np.uint16)):
            raise OSError(f"cannot write {tmp}")
    return path


def add_case(
    catalogue: Catalogue,
    embedder: Embedder,
    image: np.ndarray,
    digest: str,
    labels: dict[str, Any],
    boxes: Sequence[dict[str, Any]] = (),
    report: str = "",
) -> tuple[int, bool]:
    """Check and add a decoded image (content hash ``digest``) with its labels, optional boxes and report:
    ``(case id, newly added)``; nothing is written before every check passed."""
    clean_labels = check_labels(labels)
    clean_boxes = check_boxes(boxes, image.shape)
    existing = catalogue.find_hash(digest)
    if existing is not None:
        return existing, False
    stored = store_image(image, catalogue.root / UPLOADS_DIR / f"{digest[:32]}.png")
    item = NewCase(embedder.preprocess.resize_uint8(image), thumbnail_of(image), digest, str(stored), clean_labels,
                   clean_boxes, report)
    catalogue.add([item], embedder)
    return int(catalogue.find_hash(digest)), True  # type: ignore[arg-type]
