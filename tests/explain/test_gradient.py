"""Gradient x input and SmoothGrad: known-answer localisation, gradient x input's threshold, SmoothGrad's
reproducible noise and its noiseless limit (the plain gradient)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chestxai.errors import ConfigError
from chestxai.explain import GradientXInput, SmoothGrad, explain
from chestxai.explain.base import normalise

from explain_helpers import distractor_image, region_in_image


@pytest.mark.parametrize("method", ["gradient_x_input", "smoothgrad"])
def test_known_answer_maximum_in_the_region(region_model, method: str) -> None:
    image = distractor_image()
    smap = explain(region_model, [image], method, "effusion")[0].map
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


def test_without_noise_it_is_the_positive_gradient(densenet) -> None:
    image = np.random.default_rng(3).random((32, 32), np.float32)
    x = densenet.preprocess.batch([image]).requires_grad_(True)
    (grad,) = torch.autograd.grad(densenet(x)[:, 1].sum(), x)
    expected = normalise(np.maximum(grad[0, 0].numpy(), 0.0))
    smap = explain(densenet, [image], "smoothgrad", "pneumonia", samples=3, noise=0.0)[0]
    np.testing.assert_allclose(smap.map, expected, atol=1e-5)
    assert smap.params == {"samples": 3, "noise": 0.0, "seed": 0}


def test_same_seed_same_map_whatever_the_batch(densenet) -> None:
    images = [np.random.default_rng(i).random((36, 30), np.float32) for i in range(3)]
    together = explain(densenet, images, "smoothgrad", "effusion", samples=4, batch_size=3)
    one_by_one = explain(densenet, images, "smoothgrad", "effusion", samples=4, batch_size=1)
    other_seed = explain(densenet, images, "smoothgrad", "effusion", samples=4, seed=1)
    for a, b, c in zip(together, one_by_one, other_seed):
        np.testing.assert_allclose(a.map, b.map, atol=1e-5)
        assert not np.allclose(a.map, c.map, atol=1e-3)


@pytest.mark.parametrize("params, message", [({"samples": 0}, "samples must be >= 1"),
                                             ({"noise": -0.1}, "noise must be a standard deviation >= 0"),
                                             ({"noise": float("nan")}, "noise must be a standard deviation >= 0")])
def test_bad_settings_are_clear_errors(region_model, params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SmoothGrad(region_model, **params)
