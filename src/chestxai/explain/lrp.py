"""Layer-wise relevance propagation / Deep Taylor decomposition with Zennit composites.

Zennit applies the rules as backward hooks (``EpsilonPlusFlat`` by default: flat for the first convolution, z+ for
the other convolutions, epsilon for the head) after *canonizing* the model: batch norms that directly follow a
convolution are merged into it, and ResNet's residual additions become modules the sum rule can see. The merges are
architecture-specific, so LRP is offered for the families whose canonization is right: DenseNet (``conv0``->``norm0``
and each dense layer's ``conv1``->``norm2``; the norms after a concatenation cannot be merged and pass relevance
through), ResNet (Zennit's ``ResNetCanonizer``) and VGG (no batch norm). Other architectures are refused with a
clear error rather than given an unconserved map: Inception-ResNet (scaled residual sums) and EfficientNet-Lite.
For EfficientNet-Lite (2026-12-07) every batch norm was merged into the convolution before it (logits unchanged to
1e-6 once the merged norms' eps was zeroed) and each residual addition made a Zennit ``Sum``; still, under
``EpsilonPlusFlat`` the relevance that reached the input was under 1% of what entered the trunk (it fell about
tenfold per stage, biases zeroed or not; DenseNet-121 conserves it exactly in the same check), so no map is offered. Rules are registered
for the duration of one batch and removed again, so the model is untouched between calls.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from chestxai.errors import ConfigError
from chestxai.explain.base import Attribution, SaliencyMethod, register

SUPPORTED = ("densenet", "resnet", "vgg")


def densenet_canonizers(model: nn.Module) -> list:
    """Merge each batch norm that directly follows a convolution (found by name, not by module order)."""
    from zennit.canonizers import NamedMergeBatchNorm

    names = dict(model.named_modules())
    follows = (("conv0", "norm0"), ("conv1", "norm2"))  # the stem; inside each dense layer
    pairs = [((name,), name[: -len(conv)] + norm) for name in names for conv, norm in follows
             if name.endswith(conv) and name[: -len(conv)] + norm in names]
    return [NamedMergeBatchNorm(pairs)]


def canonizers_for(model: nn.Module) -> list:
    """Zennit canonizers for ``model.arch``; a :class:`ConfigError` for architectures LRP is not validated on."""
    from zennit.canonizers import SequentialMergeBatchNorm
    from zennit.torchvision import ResNetCanonizer

    arch = str(getattr(model, "arch", ""))
    if arch.startswith("densenet"):
        return densenet_canonizers(model)
    if arch.startswith("resnet"):
        return [ResNetCanonizer()]
    if arch.startswith("vgg"):
        return [SequentialMergeBatchNorm()]
    raise ConfigError(f"LRP is available for {', '.join(SUPPORTED)} models, not {arch or 'this model'}; "
                      "use gradcam, gradient_x_input or occlusion")


@register
class LRP(SaliencyMethod):
    """Positive input relevance for the target logit (Zennit ``Gradient`` attributor with a composite)."""

    name = "lrp"

    def __init__(
        self, model: nn.Module, composite: str = "epsilon_plus_flat", canonizers: list | None = None,
        batch_size: int = 16,
    ) -> None:
        from zennit.composites import COMPOSITES

        super().__init__(model, batch_size)
        if composite not in COMPOSITES:
            raise ConfigError(f"unknown Zennit composite {composite!r}; choose from: {', '.join(COMPOSITES)}")
        self.composite = composite
        # Explicit canonizers (e.g. [] for a plain conv net) skip the architecture check.
        self._canonizers = canonizers_for(model) if canonizers is None else list(canonizers)

    def params(self) -> dict[str, Any]:
        return {"composite": self.composite}

    def attribute(self, x: torch.Tensor, index: int) -> Attribution:
        from zennit.attribution import Gradient
        from zennit.composites import COMPOSITES

        composite = COMPOSITES[self.composite](canonizers=self._canonizers)
        one_hot = torch.zeros(len(x), len(self.model.findings), device=x.device)
        one_hot[:, index] = 1.0
        with Gradient(self.model, composite) as attributor:
            # Start from R = the logit itself (not 1): relevance then sums to the logit and keeps its meaning
            # ("positive = evidence for the finding") when the logit is negative.
            logits, relevance = attributor(x.clone(), lambda output: output * one_hot)
        return Attribution(relevance[:, 0], logits.detach())
