"""Grad-CAM and Grad-CAM++ on ``model.target_layer`` (the last convolutional feature map, what the head pools).

Our own implementation rather than pytorch-grad-cam (which the tests and ``benchmarks/explain_speed.py`` use as the
numerical reference): a CAM needs the gradient of the target logit with respect to the feature map only, so the
trunk runs *without* autograd and the gradient is taken through the head alone (``torch.autograd.grad``), for the
whole batch in one forward and one tiny backward. pytorch-grad-cam calls ``loss.backward()`` through the whole
network (every parameter's gradient included) and does the arithmetic in NumPy, which costs about two extra
forwards per batch. The hooked activation is the layer's real output tensor (all ReLUs are non-inplace modules,
see ``models.registry``), so CPU and GPU see the same values.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from chestxai.errors import ConfigError
from chestxai.explain.base import Attribution, SaliencyMethod, register


class _CAMBase(SaliencyMethod):
    """Hook the target layer; during :meth:`attribute` cut the graph there and differentiate only the head."""

    minmax = True

    def __init__(self, model: nn.Module, batch_size: int = 16, layer: str | None = None) -> None:
        """``layer``: a module of ``model.trunk`` by name (e.g. ``0.denseblock3`` for the shipped DenseNet-121) instead of the last feature
        map. An earlier layer has a finer grid (8 x 8 instead of 4 x 4 for DenseNet-121 at 128 px), at the price of
        channels that are less specific to the finding; the explanation report measures which localises better."""
        super().__init__(model, batch_size)
        self._capturing = False
        self._activation: torch.Tensor | None = None
        self.layer = layer
        self.add_forward_hook(self._layer_module(model, layer), self._capture)

    @staticmethod
    def _layer_module(model: nn.Module, layer: str | None) -> nn.Module:
        if layer is None:
            return model.target_layer
        try:
            return model.trunk.get_submodule(layer)
        except AttributeError:
            names = [n for n, _ in model.trunk.named_modules() if n and n.count(".") <= 1]
            raise ConfigError(f"no layer {layer!r} in the model's trunk (modules: {', '.join(names)})") from None

    def params(self) -> dict[str, Any]:
        return {"layer": self.layer or self.model.target_layer_name}

    def _capture(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor | None:
        # Outside explain() the hook is inert: a model used for training meanwhile keeps its full graph.
        if not self._capturing:
            return None
        torch.set_grad_enabled(True)  # the trunk ran under no_grad; record the graph from here to the logits
        self._activation = output.detach().requires_grad_(True)
        return self._activation

    def activations_and_gradients(self, x: torch.Tensor, index: int) -> tuple[torch.Tensor, ...]:
        """Feature map ``A`` ``[n, C, h, w]``, ``d logit / d A`` and the logits, from one pass over the batch."""
        self._capturing = True
        try:
            with torch.no_grad():  # restores the caller's grad mode on exit, whatever the hook switched on
                logits = self.model(x)
                activation = self._activation
                if activation is None:
                    raise RuntimeError("the target layer did not run in the model's forward pass")
                (grads,) = torch.autograd.grad(logits[:, index].sum(), activation)
        finally:
            self._capturing = False
            self._activation = None
        return activation.detach(), grads, logits.detach()

    def channel_weights(self, activation: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def attribute(self, x: torch.Tensor, index: int) -> Attribution:
        activation, grads, logits = self.activations_and_gradients(x, index)
        weights = self.channel_weights(activation, grads)
        cam = torch.relu((weights[:, :, None, None] * activation).sum(dim=1))
        return Attribution(cam, logits)


@register
class GradCAM(_CAMBase):
    """Grad-CAM (Selvaraju et al. 2017): channel weights = spatial mean of the gradient."""

    name = "gradcam"

    def channel_weights(self, activation: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        return grads.mean(dim=(2, 3))


@register
class GradCAMPlusPlus(_CAMBase):
    """Grad-CAM++ (Chattopadhay et al. 2018, eq. 19), the same closed form as pytorch-grad-cam's."""

    name = "gradcampp"

    def channel_weights(self, activation: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        grads_2 = grads.pow(2)
        sum_activation = activation.sum(dim=(2, 3), keepdim=True)
        alpha = grads_2 / (2 * grads_2 + sum_activation * grads_2 * grads + 1e-6)
        alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
        return (torch.relu(grads) * alpha).sum(dim=(2, 3))
