"""Test helpers for the saliency tests: a model whose answer is known and images that tempt a wrong answer."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from chestxai.data.preprocess import Preprocess
from chestxai.models import Classifier

SIZE = 32
REGION = (slice(18, 28), slice(4, 14))  # rows, cols at model resolution: the lower-left, like effusion


class RegionGate(nn.Module):
    """Multiply the feature map by a fixed 0/1 mask: nothing outside ``region`` can reach the logits."""

    def __init__(self, size: int, region: tuple[slice, slice]) -> None:
        super().__init__()
        gate = torch.zeros(1, 1, size, size)
        gate[..., region[0], region[1]] = 1.0
        self.register_buffer("gate", gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate


class RegionModel(Classifier):
    """A hand-built :class:`Classifier` whose logit is a positive mean over ``REGION`` of a 1x1-conv feature map.

    The answer to "where is the evidence?" is known: only ``REGION`` of the image can change the output, so every
    gradient and perturbation method must put its maximum there, however bright the rest of the image is.
    """

    def __init__(self, size: int = SIZE, region: tuple[slice, slice] = REGION) -> None:
        nn.Module.__init__(self)
        self.arch = "region-test"
        self.findings = ["effusion", "pneumonia"]
        self.preprocess = Preprocess(size)
        conv = nn.Conv2d(3, 4, kernel_size=1)
        with torch.no_grad():
            conv.weight.fill_(0.5)
            conv.bias.fill_(0.1)
        relu = nn.ReLU()
        self.trunk = nn.Sequential(conv, RegionGate(size, region), relu)
        self.target_layer_name = "2"  # the ReLU: trunk[2]
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.0)
        self.head = nn.Linear(4, 2)
        self.register_buffer("logit_shift", torch.zeros(2), persistent=False)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[1.0, 2.0, 1.0, 0.5], [0.5, 0.5, 0.5, 0.5]]))
            self.head.bias.fill_(-1.0)
        self.eval()


def distractor_image(size: int = 48, seed: int = 0) -> np.ndarray:
    """Grey noise with a bright blob in the upper-right, far from ``REGION``: a method that follows brightness
    instead of the model's gradient puts its maximum in the wrong place."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(0.45, 0.75, (size, size))
    image[4:16, 30:44] = 1.0
    return image.astype(np.float32)


def region_in_image(shape: tuple[int, int], size: int = SIZE, region: tuple[slice, slice] = REGION) -> np.ndarray:
    """``REGION`` (model pixels) as a boolean mask on an image of ``shape``, widened by one pixel for resizing."""
    height, width = shape
    rows = slice(max(0, region[0].start * height // size - 1), min(height, -(-region[0].stop * height // size) + 1))
    cols = slice(max(0, region[1].start * width // size - 1), min(width, -(-region[1].stop * width // size) + 1))
    inside = np.zeros(shape, bool)
    inside[rows, cols] = True
    return inside
