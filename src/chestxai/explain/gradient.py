"""Gradient x input (Shrikumar et al. 2016) via Captum's ``InputXGradient``.

The input is the normalised tensor the model sees, ``(x - mean) / std``, so the product is measured against the
checkpoint's mean grey: a pixel at mean grey carries no evidence either way. The positive part (evidence *for* the
finding) is kept, normalised to [0, 1] by its maximum; ``threshold`` (the source study shows 0.5 and 0.7) then keeps
only the strongest pixels and zeroes the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from chestxai.explain.base import Attribution, SaliencyMethod, check_fraction, register


class _RecordingForward:
    """The model as Captum's ``forward_func``, keeping the logits of the pass Captum makes (saves a forward)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.logits: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        self.logits = logits.detach()
        return logits


@register
class GradientXInput(SaliencyMethod):
    """``relu(d logit / d x * x)`` over the normalised input, optionally thresholded."""

    name = "gradient_x_input"

    def __init__(self, model: nn.Module, threshold: float = 0.0, batch_size: int = 16) -> None:
        super().__init__(model, batch_size)
        self.threshold = check_fraction("threshold", threshold)

    def params(self) -> dict[str, Any]:
        return {"threshold": self.threshold}

    def attribute(self, x: torch.Tensor, index: int) -> Attribution:
        from captum.attr import InputXGradient

        forward = _RecordingForward(self.model)
        attribution = InputXGradient(forward).attribute(x.clone().requires_grad_(True), target=index)
        return Attribution(attribution[:, 0], forward.logits)

    def finish(self, raw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        smap = super().finish(raw, size)
        if self.threshold > 0:
            smap = np.where(smap >= self.threshold, smap, 0.0).astype(np.float32)
        return smap
