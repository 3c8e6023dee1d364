"""Metrics of saliency maps, as functions of plain arrays (maps ``[N, H, W]`` in [0, 1], boolean box masks).

Quantus computes the same thing for Relevance Mass/Rank Accuracy, Complexity, Sparseness, Pixel Flipping and the
Local Lipschitz Estimate, so those call it; the rest (pointing game with a tolerance, IoU, pixel-AUC, chance levels,
randomisation correlation) are a few lines each with the formula below. Conventions fixed here, whatever Quantus'
defaults: maps are non-negative (Quantus' RMA sums *signed* relevance), an empty box is refused (Quantus returns NaN),
pixel flipping reads the *probability* of the target (a two-column ``[1 - p, p]`` model with ``softmax=False``:
Quantus' default softmax over one sigmoid logit is always 1.0) and removes pixels in chunks, not one per forward.
Higher is better unless the docstring says otherwise.

The report (:mod:`chestxai.evaluate.explanation_report`) scores each image with every metric of the registry
:data:`METRICS` (classes registered with ``@register``, like the saliency methods, each carrying its name, direction
and category): adding a metric is one class here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from chestxai.errors import ConfigError
from chestxai.explain.base import FLAT_SPAN


TIE_SPAN = 1e-6  # relative to a map's span: values this close to the maximum tie with it in the pointing game


def _quantus():
    import quantus

    return quantus


def box_mask(shape: tuple[int, int], box: tuple[float, float, float, float]) -> np.ndarray:
    """Boolean ``H x W`` mask of an ``(x, y, w, h)`` box (pixel units, clipped to the image)."""
    h, w = shape
    x0, y0 = int(np.floor(max(box[0], 0))), int(np.floor(max(box[1], 0)))
    x1, y1 = int(np.ceil(min(box[0] + box[2], w))), int(np.ceil(min(box[1] + box[3], h)))
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _check_masks(masks: np.ndarray) -> None:
    empty = [i for i, m in enumerate(masks) if not m.any()]
    if empty:
        raise ConfigError(f"empty ground-truth box for image(s) {empty}: localisation metrics need a box with area")


def _q(maps: np.ndarray) -> np.ndarray:
    """Maps ``[N, H, W]`` -> Quantus' ``[N, 1, H, W]`` float, non-negative."""
    return np.clip(np.asarray(maps, dtype=np.float32), 0, None)[:, None]


def _call(metric, **kwargs) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(metric(model=kwargs.pop("model", None), channel_first=True, **kwargs), dtype=float)


def chance_level(masks: np.ndarray) -> np.ndarray:
    """Share of the image inside the box: what a uniform map scores on RMA and (in expectation) the pointing game."""
    return np.asarray(masks, dtype=bool).reshape(len(masks), -1).mean(axis=1)


def _localisation(metric, maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Run a Quantus localisation metric on the non-degenerate maps; constant maps get NaN (and are counted by
    the report via :func:`degenerate`), because Quantus refuses them and their ranking is undefined."""
    _check_masks(masks)
    out = np.full(len(maps), np.nan)
    ok = ~degenerate(maps)
    if ok.any():
        x = _q(np.asarray(maps)[ok])
        out[ok] = _call(metric, x_batch=x, y_batch=np.zeros(len(x), int), a_batch=x,
                        s_batch=_q(np.asarray(masks)[ok]) > 0)
    return out


def relevance_mass_accuracy(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """RMA = sum of relevance inside the box / total relevance (Quantus, on non-negative maps). Range [0, 1]."""
    return _localisation(_quantus().RelevanceMassAccuracy(abs=True, normalise=False, disable_warnings=True),
                         maps, masks)


def relevance_rank_accuracy(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """RRA = share of the K most relevant pixels that fall inside the box, K = box area (Quantus). Range [0, 1]."""
    return _localisation(_quantus().RelevanceRankAccuracy(abs=True, normalise=False, disable_warnings=True),
                         maps, masks)


def pointing_game(maps: np.ndarray, masks: np.ndarray, tolerance: int = 2) -> np.ndarray:
    """1 if the map's maximum lies within ``tolerance`` pixels of the box, else 0; NaN for constant maps.

    Ties are common (an occlusion patch, a Grad-CAM cell or a silhouette quadrant is a plateau of hundreds of equal
    maxima), so a tied maximum is drawn uniformly among the maximal pixels and the *expected* hit is returned: the
    share of maximal pixels within the box. Taking numpy's first maximum instead points at a plateau's top-left
    corner (the effusion silhouette maps scored 0.075 that way, 0.282 in expectation); Quantus' ``PointingGame``
    counts a hit if *any* maximum is in the box, which rewards flat maps (0.775 for the same quadrants). Pixels
    within ``TIE_SPAN`` of the map's span below its maximum count as maximal (float noise of upsampling)."""
    from scipy.ndimage import binary_dilation

    _check_masks(masks)
    hits = []
    for m, box, flat in zip(maps, masks, degenerate(maps)):
        if flat:
            hits.append(float("nan"))
            continue
        grown = binary_dilation(box, iterations=tolerance) if tolerance > 0 else box
        top = m >= m.max() - TIE_SPAN * (m.max() - m.min())
        hits.append(float(grown[top].mean()))
    return np.asarray(hits)


def box_iou(a: tuple[float, float, float, float] | None, b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes; 0 when ``a`` is None (no box found)."""
    if a is None:
        return 0.0
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def map_box_iou(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """IoU of each map's box (:func:`chestxai.explain.evidence.to_box`) with the bounding box of its mask (the
    radiologist's boxes of the image, merged)."""
    from chestxai.explain.evidence import to_box

    out = []
    for m, mask in zip(maps, masks):
        ys, xs = np.nonzero(mask)
        merged = (float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1))
        out.append(box_iou(to_box(m), merged))
    return np.asarray(out)


def pixel_auc(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """ROC AUC of the map as a pixel classifier of the box (0.5 = no better than chance)."""
    from sklearn.metrics import roc_auc_score

    _check_masks(masks)
    out = []
    for m, box in zip(maps, masks):
        out.append(float(roc_auc_score(box.ravel(), m.ravel())) if not box.all() else float("nan"))
    return np.asarray(out)


def _per_map(metric, maps: np.ndarray, constant_value: float) -> np.ndarray:
    """Quantus on the non-constant maps; a constant map gets ``constant_value``, its exact score (Quantus refuses
    constant maps, but their entropy and Gini index are well defined)."""
    out = np.full(len(maps), constant_value, dtype=float)
    ok = ~degenerate(maps)
    if ok.any():
        x = _q(np.asarray(maps)[ok])
        out[ok] = _call(metric, x_batch=x, y_batch=np.zeros(len(x), int), a_batch=x)
    return out


def complexity(maps: np.ndarray) -> np.ndarray:
    """Shannon entropy of the normalised |map| (Quantus' Complexity); lower is simpler. Max = log(H*W)."""
    n = maps.shape[1] * maps.shape[2]
    return _per_map(_quantus().Complexity(normalise=False, disable_warnings=True), maps, float(np.log(n)))


def sparseness(maps: np.ndarray) -> np.ndarray:
    """Gini index of |map| (Quantus' Sparseness): 0 = uniform, towards 1 = concentrated."""
    return _per_map(_quantus().Sparseness(normalise=False, disable_warnings=True), maps, 0.0)


def degenerate(maps: np.ndarray) -> np.ndarray:
    """True for maps that are constant (incl. all zero): counted and reported, never silently scored."""
    flat = np.asarray(maps).reshape(len(maps), -1)
    return (flat.max(axis=1) - flat.min(axis=1)) <= FLAT_SPAN  # vectorised is_flat


class TargetProbability(nn.Module):
    """``[1 - p, p]`` for one finding of a multi-label model: lets Quantus read the target's probability."""

    def __init__(self, model: nn.Module, target: int) -> None:
        super().__init__()
        self.model, self.target = model, target

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(self.model(x)[:, self.target])  # the network's own sigmoid, as occlusion uses
        return torch.stack([1 - p, p], dim=1)


def pixel_flipping(
    model: nn.Module, x: np.ndarray, maps: np.ndarray, target: int, steps: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Remove the most relevant pixels first (replaced by the image mean, ``steps`` chunks) and record p(target).

    Returns (auc per image, curves ``[N, steps]``); AUC = trapezoid area under the curve over the removed
    fraction in [0, 1]: *lower* is more faithful (the probability falls faster). Quantus' PixelFlipping.
    """
    q = _quantus()
    n_pixels = maps.shape[1] * maps.shape[2]
    if n_pixels % steps:
        raise ConfigError(f"pixel flipping: {steps} steps must divide the {n_pixels} pixels of the map")
    wrapped = TargetProbability(model, target).eval()
    metric = q.PixelFlipping(features_in_step=n_pixels // steps, perturb_baseline="mean", normalise=False,
                             disable_warnings=True)
    curves = _call(metric, model=wrapped, x_batch=np.asarray(x, np.float32), y_batch=np.ones(len(x), int),
                   a_batch=_q(maps), softmax=False, device="cpu")
    return np.trapezoid(curves, dx=1.0 / (curves.shape[1] - 1), axis=1), curves


def random_order_maps(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Uniform random maps: the pixel-flipping baseline any real explanation must beat."""
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def local_lipschitz(
    model: nn.Module,
    x: np.ndarray,
    maps: np.ndarray,
    target: int,
    explain: Callable[[torch.Tensor], np.ndarray],
    samples: int = 5,
    noise: float = 0.05,
    seed: int = 0,
) -> np.ndarray:
    """max over noisy copies x' of ||e(x) - e(x')||_2 / ||x - x'||_2 (Quantus' LocalLipschitzEstimate); lower is
    more robust. ``explain`` re-explains a perturbed batch ``[N, 1, H, W]`` and returns maps ``[N, H, W]``.

    Quantus draws the noise from numpy's global generator; it is seeded with ``seed`` for the call (and restored
    after), so a re-run of a report gives the same figures instead of a fresh draw of ``samples`` maxima."""
    q = _quantus()

    def explain_func(model, inputs, targets, **kwargs) -> np.ndarray:
        return _q(explain(torch.as_tensor(np.asarray(inputs, np.float32))))

    metric = q.LocalLipschitzEstimate(nr_samples=samples, perturb_std=noise, normalise=False, abs=True,
                                      disable_warnings=True)
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        return _call(metric, model=TargetProbability(model, target).eval(), x_batch=np.asarray(x, np.float32),
                     y_batch=np.ones(len(x), int), a_batch=_q(maps), explain_func=explain_func, softmax=False,
                     device="cpu")
    finally:
        np.random.set_state(state)


def randomisation_spearman(maps: np.ndarray, randomised_maps: np.ndarray) -> np.ndarray:
    """Spearman rank correlation between each map and the map of a parameter-randomised model.

    A sanity check (Adebayo et al. 2018): an explanation that depends on what the model learned changes when the
    weights are randomised, so *lower* correlation is better; ~1 means the map ignores the model.
    """
    from scipy.stats import spearmanr

    out = []
    for a, b in zip(maps, randomised_maps):
        a, b = np.ravel(a), np.ravel(b)
        out.append(float("nan") if a.std() == 0 or b.std() == 0 else float(spearmanr(a, b).statistic))
    return np.asarray(out)


# --- the metrics as a registry: each carries its facts (as Quantus' metric classes do) -----------------------------

LOCALISATION, FAITHFULNESS, ROBUSTNESS, COMPLEXITY, RANDOMISATION = (
    "localisation", "faithfulness", "robustness", "complexity", "randomisation")

# The source study's Quantus figures for Grad-CAM on a DenseNet effusion model (224 px); quoted, never computed.
SOURCE_STUDY_GRADCAM = {"local_lipschitz": 2.05, "pixel_flipping_auc": 0.55, "relevance_mass_accuracy": 0.18,
                        "complexity": 10.32}


@dataclass
class Sample:
    """One image as every metric sees it: the model-resolution input ``x`` ``[1, C, H, W]``, its map ``[1, H, W]``
    and the randomised model's map, the target's output index, its box (mask ``H x W`` and merged ``(x, y, w, h)``;
    None without one), a function that re-explains a batch (robustness) and the run's knobs."""

    model: nn.Module
    x: torch.Tensor
    map: np.ndarray
    randomised_map: np.ndarray
    target: int
    mask: np.ndarray | None
    box: tuple[float, float, float, float] | None
    explain: Callable[[torch.Tensor], np.ndarray]
    steps: int = 32
    samples: int = 5
    noise: float = 0.1


class ExplanationMetric:
    """A metric of one saliency map: ``name`` (its column), ``score_direction`` ("higher" or "lower" is better),
    ``category``; ``score`` returns its column and any companion columns. Localisation metrics only run on images
    with a box; a constant map is only scored by metrics with ``scores_constant_maps`` (its ranking is undefined)."""

    name: str
    score_direction: str
    category: str
    scores_constant_maps: bool = False

    def score(self, s: Sample) -> dict[str, Any]:
        raise NotImplementedError


METRICS: dict[str, type[ExplanationMetric]] = {}


def register(cls: type[ExplanationMetric]) -> type[ExplanationMetric]:
    """Class decorator: make a metric known by ``cls.name`` (the report loops over :data:`METRICS` in this order)."""
    if cls.score_direction not in ("higher", "lower"):
        raise ValueError(f"{cls.__name__}: score_direction must be 'higher' or 'lower'")
    METRICS[cls.name] = cls
    return cls


class BoxMetric(ExplanationMetric):
    """A localisation metric that is a function ``(maps, masks) -> scores`` of this module."""

    category = LOCALISATION
    function: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def score(self, s: Sample) -> dict[str, Any]:
        return {self.name: float(type(self).function(s.map, s.mask[None])[0])}


class MapMetric(ExplanationMetric):
    """A metric of the map alone, a function ``maps -> scores`` of this module (defined for constant maps too)."""

    scores_constant_maps = True
    function: Callable[[np.ndarray], np.ndarray]

    def score(self, s: Sample) -> dict[str, Any]:
        return {self.name: float(type(self).function(s.map)[0])}


def register_function(base: type[ExplanationMetric], name: str, score_direction: str, function: Callable,
                      category: str | None = None) -> type[ExplanationMetric]:
    """Register a metric that is one function of this module, as a ``base`` subclass (:class:`BoxMetric` or
    :class:`MapMetric`) carrying its ``name``, ``score_direction`` and ``category``: what ``@register`` does to a
    class written out, without writing the same three lines per metric."""
    facts = {"name": name, "score_direction": score_direction, "function": staticmethod(function),
             **({"category": category} if category else {})}
    return register(type("".join(w.title() for w in name.split("_")), (base,), facts))


RelevanceMassAccuracy = register_function(BoxMetric, "relevance_mass_accuracy", "higher", relevance_mass_accuracy)
RelevanceRankAccuracy = register_function(BoxMetric, "relevance_rank_accuracy", "higher", relevance_rank_accuracy)
PointingGame = register_function(BoxMetric, "pointing_game", "higher", pointing_game)
BoxIoU = register_function(BoxMetric, "iou", "higher", map_box_iou)
PixelAUC = register_function(BoxMetric, "pixel_auc", "higher", pixel_auc)


@register
class PixelFlippingAUC(ExplanationMetric):
    """Also returns the curve (``pixel_flipping_curve``, ``[steps]``) for the report's figure."""

    name, score_direction, category = "pixel_flipping_auc", "lower", FAITHFULNESS

    def score(self, s: Sample) -> dict[str, Any]:
        auc, curve = pixel_flipping(s.model, s.x.numpy(), s.map, s.target, s.steps)
        return {self.name: float(auc[0]), "pixel_flipping_curve": curve[0]}


@register
class LocalLipschitz(ExplanationMetric):
    """NaN with ``lipschitz_undefined`` when a noisy copy's map is all zero: Quantus refuses such maps, and one
    undefined metric must not drop the image's other scores (the report counts these cases)."""

    name, score_direction, category = "local_lipschitz", "lower", ROBUSTNESS

    def score(self, s: Sample) -> dict[str, Any]:
        try:
            value = float(local_lipschitz(s.model, s.x.numpy(), s.map, s.target, s.explain, s.samples, s.noise)[0])
            return {self.name: value, "lipschitz_undefined": False}
        except AssertionError as exc:
            if "equal to zero" not in str(exc):
                raise
            return {self.name: float("nan"), "lipschitz_undefined": True}


Complexity = register_function(MapMetric, "complexity", "lower", complexity, COMPLEXITY)
Sparseness = register_function(MapMetric, "sparseness", "higher", sparseness, COMPLEXITY)


@register
class RandomisationSpearman(ExplanationMetric):
    """A constant map from the randomised model has no ranking: Spearman is undefined, so it is counted instead
    (``randomised_constant``; it is a pass of the sanity check: the map did change with the weights)."""

    name, score_direction, category = "randomisation_spearman", "lower", RANDOMISATION

    def score(self, s: Sample) -> dict[str, Any]:
        constant = bool(degenerate(s.randomised_map)[0])
        value = float("nan") if constant else float(randomisation_spearman(s.map, s.randomised_map)[0])
        return {"randomised_constant": constant, self.name: value}


def score_sample(s: Sample) -> dict[str, Any]:
    """Every registered metric that applies to ``s`` (see :class:`ExplanationMetric`), with ``degenerate`` and the
    box's ``chance_level``: the metrics that score constant maps first, then the rest in registry order."""
    flat = bool(degenerate(s.map)[0])
    row: dict[str, Any] = {"degenerate": flat}
    metrics = [m() for m in METRICS.values()]
    for metric in (m for m in metrics if m.scores_constant_maps):
        row.update(metric.score(s))
    if s.mask is not None:
        row["chance_level"] = float(chance_level(s.mask[None])[0])
    if flat:
        return row
    for metric in (m for m in metrics if not m.scores_constant_maps):
        if metric.category != LOCALISATION or s.mask is not None:
            row.update(metric.score(s))
    return row
