"""The model-free silhouette baseline picks the brighter quadrant of the brighter half."""

from __future__ import annotations

import numpy as np
import pytest

from chestxai.errors import ConfigError
from chestxai.explain import Silhouette, explain
from chestxai.explain.silhouette import silhouette_quadrant


@pytest.mark.parametrize("quadrant", ["upper-left", "upper-right", "lower-left", "lower-right"])
def test_picks_the_brighter_quadrant(quadrant: str) -> None:
    image = np.full((128, 128), 0.3, np.float32)
    level, side = quadrant.split("-")
    rows = slice(25, 60) if level == "upper" else slice(70, 105)
    cols = slice(10, 50) if side == "left" else slice(78, 118)
    image[rows, cols] = 0.9
    found = silhouette_quadrant(image)
    assert found["quadrant"] == quadrant and found["half"] == side
    x, y, w, h = found["box"]
    assert (x, w) == ((0, 64) if side == "left" else (64, 64))
    assert (y, y + h) == ((20, 65) if level == "upper" else (65, 110))


def test_map_and_box_follow_the_original_image(region_model) -> None:
    """At 2x the model size, the lower-right blob gives a box in the image's own pixels and a map on it."""
    image = np.full((96, 64), 0.2, np.float32)
    image[60:80, 40:60] = 1.0
    smap = explain(region_model, [image], "silhouette", "effusion")[0]
    assert smap.extras["quadrant"] == "lower-right"
    x, y, w, h = smap.extras["box"]
    assert (x, w) == (32, 32) and abs(y - 49) <= 3 and abs(y + h - 82) <= 3
    assert smap.map[70, 50] == 1.0 and smap.map[20, 10] == 0.0


def test_rows_are_checked(region_model) -> None:
    with pytest.raises(ConfigError, match="silhouette rows"):
        Silhouette(region_model, rows=(110, 20))
