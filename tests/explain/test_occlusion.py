"""Occlusion: known-answer localisation, the reported half/quadrant, argument checks."""

from __future__ import annotations

import numpy as np
import pytest

from chestxai.errors import ConfigError
from chestxai.explain import Occlusion, explain
from chestxai.explain.occlusion import region_labels

from explain_helpers import distractor_image, region_in_image


@pytest.mark.parametrize("params", [{"mode": "grid", "patch": 6, "stride": 3}, {"mode": "grid"}])
def test_known_answer_maximum_in_the_region(region_model, params: dict) -> None:
    image = distractor_image()
    smap = explain(region_model, [image], "occlusion", "effusion", **params)[0]
    assert region_in_image(image.shape)[np.unravel_index(np.argmax(smap.map), smap.map.shape)]
    assert smap.params["mode"] == "grid"


@pytest.mark.parametrize("mode", ["halves", "quadrants"])
def test_reports_the_region_the_model_uses(region_model, mode: str) -> None:
    image = distractor_image()
    smap = explain(region_model, [image], "occlusion", "effusion", mode=mode)[0]
    assert smap.extras["half"] == "left" and smap.extras["quadrant"] == "lower-left"
    assert smap.extras["quadrant_drops"]["upper-right"] == pytest.approx(0.0, abs=1e-6)
    assert smap.extras["quadrant_drops"]["lower-left"] > 0.01
    assert smap.map[40, 5] == 1.0 and smap.map[5, 40] == 0.0  # the whole lower-left region is the maximum


def test_region_labels_number_halves_and_quadrants() -> None:
    quadrants = region_labels(4, "quadrants").numpy()
    np.testing.assert_array_equal(quadrants, [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    np.testing.assert_array_equal(region_labels(4, "halves").numpy()[0], [0, 0, 1, 1])


@pytest.mark.parametrize("params, message", [
    ({"mode": "spiral"}, "occlusion mode must be one of"),
    ({"patch": 0}, "patch must be within"),
    ({"patch": 99}, "patch must be within"),
    ({"stride": 0}, "stride >= 1"),
    ({"fill": 2.0}, "fill must be between 0 and 1"),
])
def test_bad_arguments_are_clear_errors(region_model, params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Occlusion(region_model, **params)
