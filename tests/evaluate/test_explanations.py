"""Explanation metrics on hand-made maps with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from chestxai.errors import ConfigError
from chestxai.evaluate import explanations as xm

H = W = 16


def _box() -> np.ndarray:
    return xm.box_mask((H, W), (4, 4, 4, 4))[None]


def test_all_mass_in_the_box_scores_one_and_uniform_scores_chance() -> None:
    inside = _box().astype(np.float32)
    near_uniform = np.ones((1, H, W), np.float32)
    near_uniform[0, 15, 15] = 0.999  # Quantus refuses exactly constant maps
    assert xm.relevance_mass_accuracy(inside, _box())[0] == pytest.approx(1.0)
    assert xm.relevance_rank_accuracy(inside, _box())[0] == pytest.approx(1.0)
    assert xm.relevance_mass_accuracy(near_uniform, _box())[0] == pytest.approx(xm.chance_level(_box())[0], abs=1e-4)
    assert xm.chance_level(_box())[0] == pytest.approx(16 / 256)


def test_constant_maps_are_nan_for_localisation_not_zero() -> None:
    maps = np.stack([np.zeros((H, W), np.float32), _box()[0].astype(np.float32)])
    masks = np.repeat(_box(), 2, axis=0)
    rma = xm.relevance_mass_accuracy(maps, masks)
    assert np.isnan(rma[0]) and rma[1] == pytest.approx(1.0)
    assert np.isnan(xm.pointing_game(maps, masks)[0])


def test_pointing_game_hit_miss_and_tolerance() -> None:
    m = np.zeros((1, H, W), np.float32)
    m[0, 12, 12] = 1.0  # far outside the box
    assert xm.pointing_game(m, _box())[0] == 0.0
    m2 = np.zeros((1, H, W), np.float32)
    m2[0, 5, 9] = 1.0  # one pixel right of the box (x = 4..7)
    assert xm.pointing_game(m2, _box(), tolerance=0)[0] == 0.0
    assert xm.pointing_game(m2, _box(), tolerance=2)[0] == 1.0


def test_pointing_game_scores_a_plateau_by_its_share_in_the_box() -> None:
    """A tied maximum is a random draw among the maxima: a plateau half inside the box scores 0.5, whatever its
    first pixel (here the top-left corner, inside) or any single pixel (Quantus' any-hit would say 1) would say."""
    box = _box()
    ys, xs = np.nonzero(box[0])
    m = np.zeros((1, H, W))
    m[0, ys.min():ys.max() + 1, xs.min():xs.max() + 1 + (xs.max() - xs.min() + 1)] = 1.0  # box plus as much beside it
    assert xm.pointing_game(m, box, tolerance=0)[0] == pytest.approx(0.5)
    m[0, ys.min(), xs.max() + 3] = 1.0 + 1e-8  # float noise above the plateau (outside the box) still ties with it
    assert xm.pointing_game(m, box, tolerance=0)[0] == pytest.approx(0.5, abs=0.02)


def test_empty_box_is_refused() -> None:
    with pytest.raises(ConfigError, match="empty ground-truth box"):
        xm.relevance_mass_accuracy(np.ones((1, H, W)), np.zeros((1, H, W), bool))


def test_iou_and_pixel_auc() -> None:
    assert xm.box_iou((0, 0, 4, 4), (2, 0, 4, 4)) == pytest.approx(8 / 24)
    assert xm.box_iou(None, (0, 0, 1, 1)) == 0.0
    assert xm.pixel_auc(_box().astype(float), _box())[0] == pytest.approx(1.0)


def test_constant_map_has_maximal_complexity_and_zero_sparseness() -> None:
    constant = np.full((1, H, W), 0.5, np.float32)
    peaked = np.zeros((1, H, W), np.float32)
    peaked[0, 3, 3] = 1.0
    assert xm.complexity(constant)[0] == pytest.approx(np.log(H * W), rel=1e-4)
    assert xm.complexity(peaked)[0] < 0.1
    assert xm.sparseness(constant)[0] == pytest.approx(0.0, abs=1e-3)
    assert xm.sparseness(peaked)[0] > 0.9
    assert xm.degenerate(np.concatenate([constant, peaked])).tolist() == [True, False]


class RegionSum(nn.Module):
    """A faithful toy model: logit = 8 * mean of the region rows/cols 4..8 (minus an offset)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (8 * x[:, 0, 4:8, 4:8].mean(dim=(1, 2)) - 2).unsqueeze(1)


def test_pixel_flipping_drops_fastest_for_the_right_map() -> None:
    x = np.ones((2, 1, H, W), np.float32)
    x[:, :, 4:8, 4:8] = 3.0  # the evidence: removing it (mean replacement) must lower the probability
    right = np.repeat(_box().astype(np.float32), 2, axis=0)
    wrong = 1.0 - right
    auc_right, curves = xm.pixel_flipping(RegionSum(), x, right, target=0, steps=16)
    auc_wrong, _ = xm.pixel_flipping(RegionSum(), x, wrong, target=0, steps=16)
    auc_random, _ = xm.pixel_flipping(RegionSum(), x, xm.random_order_maps((2, H, W)), target=0, steps=16)
    assert curves.shape == (2, 16)
    assert np.all(auc_right < auc_random) and np.all(auc_random < auc_wrong)


def test_identical_maps_under_noise_have_zero_lipschitz() -> None:
    x = np.random.default_rng(0).random((2, 1, H, W)).astype(np.float32)
    fixed = np.repeat(_box().astype(np.float32), 2, axis=0)
    lip = xm.local_lipschitz(RegionSum(), x, fixed, 0, explain=lambda xs: fixed[: len(xs)], samples=3)
    assert np.allclose(lip, 0.0)
    noisy = xm.local_lipschitz(RegionSum(), x, fixed, 0, explain=lambda xs: xs[:, 0].numpy(), samples=3)
    assert np.all(noisy > 0)


def test_lipschitz_is_reproducible_and_leaves_the_global_generator_alone() -> None:
    """Quantus draws its noise from numpy's global generator: a report re-run must give the same figure, and the
    caller's random stream must not be reset by the metric."""
    x = np.random.default_rng(0).random((1, 1, H, W)).astype(np.float32)
    maps = np.abs(x[:, 0])
    rough = lambda xs: np.abs(xs[:, 0].numpy()) ** 3  # noqa: E731 - a map that reacts non-linearly to the noise
    np.random.seed(123)
    first = xm.local_lipschitz(RegionSum(), x, maps, 0, explain=rough, samples=3)
    after = np.random.random()
    np.random.seed(999)
    second = xm.local_lipschitz(RegionSum(), x, maps, 0, explain=rough, samples=3)
    assert np.array_equal(first, second)
    np.random.seed(123)
    assert np.random.random() == after
    assert not np.array_equal(first, xm.local_lipschitz(RegionSum(), x, maps, 0, explain=rough, samples=3, seed=1))


def test_randomisation_correlation() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((1, H, W))
    assert xm.randomisation_spearman(a, a)[0] == pytest.approx(1.0)
    assert abs(xm.randomisation_spearman(a, rng.random((1, H, W)))[0]) < 0.3


def test_each_metric_carries_its_facts_and_the_scoring_loops_over_the_registry(monkeypatch) -> None:
    assert list(xm.METRICS)[:5] == ["relevance_mass_accuracy", "relevance_rank_accuracy", "pointing_game", "iou",
                                    "pixel_auc"]
    assert {m.category for m in list(xm.METRICS.values())[:5]} == {xm.LOCALISATION}
    assert xm.METRICS["pixel_flipping_auc"].score_direction == "lower"
    assert xm.METRICS["sparseness"].score_direction == "higher"

    monkeypatch.setattr(xm, "METRICS", {k: xm.METRICS[k] for k in ("complexity", "pointing_game")})

    @xm.register
    class Peak(xm.ExplanationMetric):
        name, score_direction, category = "peak", "higher", xm.COMPLEXITY

        def score(self, s: xm.Sample) -> dict:
            return {self.name: float(s.map.max())}

    assert list(xm.METRICS) == ["complexity", "pointing_game", "peak"]
    m = np.zeros((1, H, W))
    m[0, 5, 5] = 0.5
    sample = xm.Sample(None, torch.zeros(1, 1, H, W), m, m, 0, None, None, lambda xs: m)
    row = xm.score_sample(sample)  # no box: localisation metrics are left out, the new metric is in
    assert row["peak"] == 0.5 and "pointing_game" not in row and not row["degenerate"]
    boxed = xm.score_sample(xm.Sample(None, torch.zeros(1, 1, H, W), m, m, 0, _box()[0], (4, 4, 4, 4), lambda xs: m))
    assert boxed["pointing_game"] == 1.0 and boxed["chance_level"] == pytest.approx(16 / 256)
    flat = xm.score_sample(xm.Sample(None, torch.zeros(1, 1, H, W), np.zeros((1, H, W)), m, 0, None, None, None))
    assert flat["degenerate"] and "peak" not in flat and "complexity" in flat  # constant maps: only counted
    with pytest.raises(ValueError, match="score_direction"):
        xm.register(type("Bad", (xm.ExplanationMetric,), {"name": "bad", "score_direction": "up", "category": "x"}))
