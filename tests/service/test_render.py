"""Rendering for the page: shrinking to display size, boxes back in original pixels, the small LRU."""

from __future__ import annotations

import numpy as np
import pytest

from chestxai.service.render import LRU, fit, scale_box


def test_fit_and_scale_box() -> None:
    image = np.zeros((2000, 1000), np.float32)
    work, scale = fit(image, 1024)
    assert work.shape == (1024, 512) and scale == pytest.approx(0.512)
    assert fit(image[:500, :400], 1024) == (pytest.approx(image[:500, :400]), 1.0)
    assert scale_box((10, 20, 100, 200), 0.5, (2000, 1000)) == (20, 40, 200, 400)
    assert scale_box((500, 1000, 100, 100), 0.5, (2000, 1000)) == (999, 1999, 1, 1)
    assert scale_box(None, 0.5, (10, 10)) is None


def test_lru_keeps_the_most_recent() -> None:
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2
