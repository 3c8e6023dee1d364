"""Multi-label BCE that ignores unknown labels (NaN) and can weight the rare positive class."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def positive_weights(labels: np.ndarray, cap: float = 10.0) -> torch.Tensor:
    """``negatives / positives`` per finding over known labels, capped so a near-empty class cannot explode."""
    known = ~np.isnan(labels)
    pos = np.nansum(labels, axis=0)
    neg = known.sum(axis=0) - pos
    return torch.tensor(np.clip(neg / np.maximum(pos, 1.0), 1.0, cap), dtype=torch.float32)


class MaskedBCEWithLogits(nn.Module):
    """``BCEWithLogitsLoss`` averaged over the known entries only (NaN target = masked, e.g. CheXpert 'ignore')."""

    def __init__(self, pos_weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.bce = nn.BCEWithLogitsLoss(reduction="none", pos_weight=pos_weight)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        known = ~torch.isnan(targets)
        loss = self.bce(logits, torch.nan_to_num(targets, nan=0.0)) * known
        return loss.sum() / known.sum().clamp(min=1)
