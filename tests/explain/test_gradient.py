"""Gradient x input: known-answer localisation and the threshold that keeps only the strongest pixels."""

from __future__ import annotations

import numpy as np
import pytest

from chestxai.errors import ConfigError
from chestxai.explain import GradientXInput, explain

from explain_helpers import distractor_image, region_in_image


def test_known_answer_maximum_in_the_region(region_model) -> None:
    image = distractor_image()
    smap = explain(region_model, [image], "gradient_x_input", "effusion")[0].map
    inside = region_in_image(image.shape)
    assert inside[np.unravel_index(np.argmax(smap), smap.shape)]
    assert smap[~inside].max() < 0.05 < smap[inside].max()


@pytest.mark.parametrize("threshold", [0.5, 0.7])
def test_threshold_keeps_only_the_strongest_pixels(region_model, threshold: float) -> None:
    image = distractor_image(seed=4)
    full = explain(region_model, [image], "gradient_x_input", "effusion")[0].map
    kept = explain(region_model, [image], "gradient_x_input", "effusion", threshold=threshold)[0]
    assert kept.params == {"threshold": threshold}
    np.testing.assert_array_equal(kept.map, np.where(full >= threshold, full, 0.0))
    assert 0 < np.count_nonzero(kept.map) < np.count_nonzero(full)


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan")])
def test_threshold_outside_unit_interval_is_a_clear_error(region_model, threshold: float) -> None:
    with pytest.raises(ConfigError, match="threshold must be between 0 and 1"):
        GradientXInput(region_model, threshold=threshold)
