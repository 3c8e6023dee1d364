"""Evidence: masks, boxes that recover drawn rectangles, overlay and panel PNGs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from chestxai.errors import ConfigError
from chestxai.explain import SaliencyMap, mask, overlay, panel, to_box


def _smap(values: np.ndarray, probability: float = 0.8, method: str = "gradcam") -> SaliencyMap:
    return SaliencyMap(values.astype(np.float32), method, "effusion", probability)


def test_to_box_recovers_a_drawn_rectangle() -> None:
    values = np.zeros((120, 90), np.float32)
    values[30:70, 15:40] = 0.9  # x=15, y=30, w=25, h=40
    values[100:104, 80:84] = 0.95  # a smaller, hotter spot elsewhere: the largest region wins
    assert to_box(values, 0.5) == (15, 30, 25, 40)
    assert to_box(_smap(values), 0.92) == (80, 100, 4, 4)
    assert to_box(values, 0.99) is None


def test_mask_and_threshold_checks() -> None:
    values = np.array([[0.2, 0.5], [0.8, 1.0]], np.float32)
    np.testing.assert_array_equal(mask(values, 0.5), [[False, True], [True, True]])
    for bad in (-0.01, 1.01):
        with pytest.raises(ConfigError, match="threshold must be between 0 and 1"):
            to_box(values, bad)


def _png_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.size


def test_overlay_writes_a_png_with_a_legend(tmp_path) -> None:
    image = np.random.default_rng(0).random((60, 80)).astype(np.float32)
    values = np.zeros((60, 80), np.float32)
    values[10:30, 20:50] = 1.0
    data = overlay(image, _smap(values), tmp_path / "a" / "o.png", reference_box=(5, 5, 10, 10))
    assert (tmp_path / "a" / "o.png").read_bytes() == data
    width, height = _png_size(data)
    hidden = overlay(image, _smap(values, probability=0.2), positive_only=0.5)
    assert width > height and hidden != data  # the colour bar widens it; a negative call is drawn without a map


def test_a_flat_map_is_named_not_drawn_silently() -> None:
    """An all-zero map is a real answer (no positive evidence); a reader must be told, not shown a blank heatmap."""
    flat, varied = _smap(np.zeros((20, 20))), _smap(np.eye(20))
    assert "found nothing in this image that raises p(effusion)" in flat.note
    assert varied.note is None
    image = np.random.default_rng(0).random((20, 20)).astype(np.float32)
    assert overlay(image, flat) != overlay(image, _smap(np.zeros((20, 20)) + 1e-6 * np.eye(20)))  # titled apart


def test_panel_has_one_column_per_method_plus_two() -> None:
    image = np.random.default_rng(0).random((50, 50)).astype(np.float32)
    maps = [_smap(np.random.default_rng(i).random((50, 50)), method=f"m{i}") for i in range(3)]
    one = _png_size(panel(image, maps[:1], reference_box=(1, 2, 3, 4)))
    three = _png_size(panel(image, maps, title="case"))
    assert three[0] > one[0] * 1.5


def test_every_registered_method_has_its_own_box_colour() -> None:
    from chestxai.explain import METHODS
    from chestxai.explain.evidence import METHOD_COLOURS

    assert len(set(METHOD_COLOURS)) == len(METHOD_COLOURS) >= len(METHODS)
