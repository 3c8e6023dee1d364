"""What the page is shown: images, heatmaps and overlays as PNG bytes, at display size, with small caches.

The analysis (:mod:`chestxai.service.analysis`) produces arrays; this module turns them into what a browser fetches:
the analysed image (grey), each method's heatmap (a transparent colour layer the page lays over the image), the
composed overlay ``chestxai explain`` draws, and a catalogue case's image and own heatmap (cached: each costs a
forward and backward pass). Plain functions of arrays, cases and the model; no HTTP here.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Generic, TypeVar

import cv2
import numpy as np
from PIL import Image

from chestxai.explain import SaliencyMap, explain, overlay
from chestxai.explain.evidence import CMAP, Box
from chestxai.models.classifier import Classifier
from chestxai.retrieval.catalogue import Case

K = TypeVar("K")
V = TypeVar("V")
# Figures the page shows (the overlay link, the case view) in its own dark colours (static/style.css --panel, --text).
PAGE_STYLE = ["dark_background", {"figure.facecolor": "#1b2027", "savefig.facecolor": "#1b2027",
                                  "axes.facecolor": "#1b2027", "text.color": "#e6e9ee"}]


class LRU(Generic[K, V]):
    """A small thread-safe least-recently-used map: the page's follow-up requests come from other threads."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, int(capacity))
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def fit(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``image`` shrunk (area interpolation) so its longest side is at most ``max_side``, and the scale used."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale >= 1.0:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(np.ascontiguousarray(image, np.float32), size, interpolation=cv2.INTER_AREA), scale


def scale_box(box: Box | None, scale: float, shape: tuple[int, int]) -> Box | None:
    """A box found on the shrunk image, in the original image's pixels (clipped to it)."""
    if box is None or scale >= 1.0:
        return box
    height, width = shape
    x, y = min(width - 1, int(box[0] / scale)), min(height - 1, int(box[1] / scale))
    return x, y, max(1, min(width - x, round(box[2] / scale))), max(1, min(height - y, round(box[3] / scale)))


def reference_box(case: Case, finding: str, scale: float) -> tuple[float, float, float, float] | None:
    """The case's first expert box of ``finding``, scaled to the display image."""
    for box in case.boxes:
        if box.get("finding") == finding:
            return tuple(float(box[key]) * scale for key in ("x", "y", "w", "h"))  # type: ignore[return-value]
    return None


def to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(values, np.float32) * 255.0), 0, 255).astype(np.uint8)


def png_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 grey or RGBA array (fast compression: these are served once and dropped)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def heatmap_png(heat: np.ndarray) -> bytes:
    """The map in the explanations' colour map with alpha = saliency, so empty areas leave the image visible."""
    from matplotlib import colormaps

    rgba = colormaps[CMAP](heat, bytes=True)
    rgba[..., 3] = heat
    return png_bytes(np.ascontiguousarray(rgba))


def overlay_png(display: np.ndarray, smap: SaliencyMap, threshold: float, positive_only: float | None = None
                ) -> bytes:
    """The composed figure (image, heatmap, box, legend) of a held uint8 display image, as ``chestxai explain``
    draws it (uses pyplot)."""
    return overlay(display.astype(np.float32) / 255.0, smap, threshold=threshold, positive_only=positive_only,
                   style=PAGE_STYLE)


def case_image_png(case: Case, display_size: int, thumbnail: bool = False) -> bytes:
    """A case's thumbnail (as stored) or its image as a grey PNG (longest side <= ``display_size``)."""
    if thumbnail:
        return Path(case.thumbnail).read_bytes()
    return png_bytes(to_uint8(fit(case.pixels(), display_size)[0]))


class CaseOverlays:
    """Catalogue cases' own heatmaps drawn as ``chestxai explain`` draws them (with the case's reference box,
    dashed, when its image has one), cached by (case, method, finding, positive_only)."""

    def __init__(self, model: Classifier, capacity: int, display_size: int, box_threshold: float) -> None:
        self.model, self.display_size, self.box_threshold = model, display_size, box_threshold
        self.cache: LRU[tuple, bytes] = LRU(capacity)

    def png(self, case: Case, method: str, target: str, positive_only: float | None = None) -> bytes:
        """``method``, ``target``: names already checked (``parse_methods``, the model's findings)."""
        key = (case.id, method, target, positive_only)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        work, scale = fit(case.pixels(), self.display_size)
        smap = explain(self.model, [work], method, target)[0]
        reference = reference_box(case, target, scale) if case.image and Path(case.image).is_file() else None
        png = overlay(work, smap, threshold=self.box_threshold, positive_only=positive_only, reference_box=reference,
                      style=PAGE_STYLE)
        self.cache.put(key, png)
        return png
