"""Occlusion: hide part of the image and measure how much the target probability drops (Zeiler & Fergus 2014).

Captum does the perturbing: ``FeatureAblation`` for the fixed regions (left/right halves, four quadrants) and
``Occlusion`` for a sliding ``patch`` x ``patch`` window with ``stride`` (``mode="grid"``). Hidden pixels are set to
``fill`` (an intensity in [0, 1]; default the checkpoint's mean grey, i.e. 0 after normalisation). Every call also
reports the most important half and quadrant (largest drop), the regions the source study and the silhouette
baseline speak in. Left/right are *image* sides (on a PA film the patient's right lung is on the image's left).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from chestxai.errors import ConfigError
from chestxai.explain.base import Attribution, SaliencyMethod, check_fraction, register

HALVES = ("left", "right")
QUADRANTS = ("upper-left", "upper-right", "lower-left", "lower-right")
MODES = ("halves", "quadrants", "grid")


def region_labels(size: int, regions: str) -> torch.Tensor:
    """``[size, size]`` integer mask numbering the halves (0 left, 1 right) or quadrants (in ``QUADRANTS`` order)."""
    second = (torch.arange(size) >= size // 2).long()  # right column / lower row
    if regions == "halves":
        return second[None, :].expand(size, size).contiguous()
    return (2 * second[:, None] + second[None, :]).contiguous()


@register
class Occlusion(SaliencyMethod):
    """Map = drop in the target probability when a region (or a sliding patch) is hidden."""

    name = "occlusion"

    def __init__(
        self,
        model: nn.Module,
        mode: str = "grid",
        patch: int | None = None,
        stride: int | None = None,
        fill: float | None = None,
        batch_size: int = 16,
    ) -> None:
        super().__init__(model, batch_size)
        if mode not in MODES:
            raise ConfigError(f"occlusion mode must be one of {', '.join(MODES)}, not {mode!r}")
        size = model.preprocess.image_size
        self.mode = mode
        self.patch = int(patch) if patch is not None else max(1, size // 4)
        self.stride = int(stride) if stride is not None else max(1, self.patch // 2)
        if not 1 <= self.patch <= size or self.stride < 1:
            raise ConfigError(f"occlusion patch must be within 1..{size} px and stride >= 1")
        self.fill = check_fraction("fill", fill) if fill is not None else float(model.preprocess.mean)

    def params(self) -> dict[str, Any]:
        return {"mode": self.mode, "patch": self.patch, "stride": self.stride, "fill": self.fill}

    def _probability(self, index: int):
        # The network's own sigmoid (no logit_shift): an explanation measures the network, not how its
        # probabilities are rescaled for display, so the maps stay those of the weights.
        return lambda x: torch.sigmoid(self.model(x)[:, index])

    def _baseline(self) -> float:
        pre = self.model.preprocess
        return (self.fill - pre.mean) / pre.std

    def region_drops(self, x: torch.Tensor, index: int, regions: str) -> torch.Tensor:
        """Per-pixel drop ``[n, S, S]`` when the pixel's half or quadrant is hidden (one batched Captum call)."""
        from captum.attr import FeatureAblation

        labels = region_labels(x.shape[-1], regions).to(x.device)[None, None]
        count = int(labels.max()) + 1
        drops = FeatureAblation(self._probability(index)).attribute(
            x, baselines=self._baseline(), feature_mask=labels, perturbations_per_eval=count
        )
        return drops[:, 0]

    def grid_drops(self, x: torch.Tensor, index: int) -> torch.Tensor:
        """Per-pixel mean drop ``[n, S, S]`` over the sliding windows that cover the pixel."""
        from captum.attr import Occlusion as CaptumOcclusion

        drops = CaptumOcclusion(self._probability(index)).attribute(
            x,
            sliding_window_shapes=(1, self.patch, self.patch),
            strides=(1, self.stride, self.stride),
            baselines=self._baseline(),
            perturbations_per_eval=self.batch_size,
        )
        return drops[:, 0]

    def attribute(self, x: torch.Tensor, index: int) -> Attribution:
        halves = self.region_drops(x, index, "halves")
        quadrants = self.region_drops(x, index, "quadrants")
        maps = {"halves": halves, "quadrants": quadrants}.get(self.mode)
        if maps is None:
            maps = self.grid_drops(x, index)
        extras = [region_summary(h.cpu().numpy(), q.cpu().numpy()) for h, q in zip(halves, quadrants)]
        return Attribution(maps, None, extras)


def region_summary(halves: np.ndarray, quadrants: np.ndarray) -> dict[str, Any]:
    """Read each region's drop off the per-pixel maps and name the most important half and quadrant."""
    size = halves.shape[-1]
    lo, hi = size // 4, (3 * size) // 4  # a pixel inside each region
    half_drops = {"left": float(halves[lo, lo]), "right": float(halves[lo, hi])}
    quadrant_drops = dict(zip(QUADRANTS, map(float, (quadrants[lo, lo], quadrants[lo, hi],
                                                       quadrants[hi, lo], quadrants[hi, hi]))))
    return {
        "half": max(half_drops, key=half_drops.get),
        "quadrant": max(quadrant_drops, key=quadrant_drops.get),
        "half_drops": half_drops,
        "quadrant_drops": quadrant_drops,
    }
