"""The one model class: backbone + global pooling + multi-label head, aware of its findings and preprocessing.

Inputs are single-channel normalised radiographs ``[N, 1, H, W]``; the grey channel is repeated to the three
channels ImageNet-shaped backbones expect inside ``forward``, so gradients and saliency maps come back with one
channel the size of the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from chestxai.data.preprocess import Preprocess
from chestxai.errors import ConfigError, UnknownFindingError
from chestxai.models.registry import DEFAULT_ARCH, arch_spec, build_backbone


class Classifier(nn.Module):
    """A multi-label CXR classifier over ``findings`` (sigmoid per finding)."""

    def __init__(
        self,
        findings: Sequence[str],
        arch: str = DEFAULT_ARCH,
        preprocess: Preprocess | None = None,
        pretrained: str = "none",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not findings:
            raise ConfigError("a classifier needs at least one finding")
        self.arch = arch
        self.findings = list(findings)
        spec = arch_spec(arch)
        self.preprocess = preprocess or Preprocess(mean=spec.mean, std=spec.std)
        if self.preprocess.image_size < spec.min_image_size:
            raise ConfigError(f"{arch} needs --image-size >= {spec.min_image_size}")
        backbone = build_backbone(arch, pretrained)
        self.trunk = backbone.trunk
        # Kept by name, not as an attribute: a second reference would register the module twice (duplicate
        # state-dict keys, and LRP canonizers merging the same batch norms twice).
        self.target_layer_name = _module_name(self.trunk, backbone.target_layer)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(backbone.channels, len(self.findings))
        # Added to the logits before the sigmoid when probabilities are reported (see ``probabilities``); kept in
        # the checkpoint's metadata, not its weights, so checkpoints without it load unchanged.
        self.register_buffer("logit_shift", torch.zeros(len(self.findings)), persistent=False)

    @property
    def target_layer(self) -> nn.Module:
        """The module whose output is the last convolutional feature map (Grad-CAM's layer)."""
        return self.trunk.get_submodule(self.target_layer_name) if self.target_layer_name else self.trunk

    @property
    def num_features(self) -> int:
        return self.head.in_features

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.trunk(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``[N, C]`` (global-pooled last feature map): the retrieval embedding."""
        return self.pool(self.feature_map(x)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, F]``."""
        return self.head(self.dropout(self.features(x)))

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Reported probabilities ``sigmoid(logits + logit_shift)`` for logits ``[N, F]``.

        A loss that weights positives by ``w`` (``--pos-weight``) multiplies the odds the network learns by ``w``;
        training stores ``-log w`` as the shift, which gives back probabilities on the scale of the training
        prevalence (a constant per finding: AUCs, rankings and gradient maps are unchanged).
        """
        return torch.sigmoid(logits + self.logit_shift.to(logits.dtype))

    def set_logit_shift(self, shift: dict[str, float] | Sequence[float] | torch.Tensor | None) -> None:
        """Set the per-finding logit shift (a ``{finding: value}`` dict, a sequence in findings order, or None = 0)."""
        if shift is None:
            values = [0.0] * len(self.findings)
        elif isinstance(shift, dict):
            values = [float(shift.get(f, 0.0)) for f in self.findings]
        else:
            values = [float(v) for v in torch.as_tensor(shift).flatten()]
        if len(values) != len(self.findings):
            raise ConfigError(f"logit shift has {len(values)} values for {len(self.findings)} findings")
        self.logit_shift.copy_(torch.tensor(values))

    def finding_index(self, finding: str | int) -> int:
        """Column of ``finding`` (a name or an index); unknown names are a user error."""
        if isinstance(finding, (int, np.integer)):
            if not 0 <= int(finding) < len(self.findings):
                raise UnknownFindingError(f"finding index {finding} out of range for {self.findings}")
            return int(finding)
        from chestxai.data.findings import canonical_finding

        name = canonical_finding(finding)
        if name not in self.findings:
            raise UnknownFindingError(
                f"the model does not know finding {finding!r}; it predicts: {', '.join(self.findings)}"
            )
        return self.findings.index(name)

    @torch.inference_mode()
    def predict_tensor(self, x: torch.Tensor, batch_size: int = 32, shifted: bool = True) -> np.ndarray:
        """Probabilities ``[N, F]`` for preprocessed inputs, in eval mode, batched (``shifted=False``: the
        network's own sigmoid, without ``logit_shift``)."""
        was_training = self.training
        self.eval()
        try:
            link = self.probabilities if shifted else torch.sigmoid
            out = [link(self(x[i : i + batch_size])).float() for i in range(0, len(x), batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.findings)), np.float32)

    def predict(self, images: Sequence[np.ndarray | str | Path], batch_size: int = 32) -> np.ndarray:
        """Probabilities ``[N, F]`` for decoded images (float H x W in [0, 1]) or image file paths."""
        from chestxai.data.io import read_image

        decoded = [read_image(im) if isinstance(im, (str, Path)) else np.asarray(im, np.float32) for im in images]
        if not decoded:
            return np.zeros((0, len(self.findings)), np.float32)
        return self.predict_tensor(self.preprocess.batch(decoded), batch_size)

    def predict_dict(self, images: Sequence[np.ndarray | str | Path]) -> list[dict[str, float]]:
        """Like :meth:`predict`, one ``{finding: probability}`` per image."""
        probs = self.predict(images)
        return [{f: float(p) for f, p in zip(self.findings, row)} for row in probs]


def _module_name(root: nn.Module, target: nn.Module) -> str:
    """Dotted name of ``target`` inside ``root`` ('' when it is ``root`` itself)."""
    for name, module in root.named_modules():
        if module is target:
            return name
    raise ConfigError("the architecture's Grad-CAM layer is not part of its trunk")


def copy_trunk(source: Classifier, target: Classifier) -> None:
    """Start ``target`` from ``source``'s convolutional trunk (its head stays new).

    This is how CXR-domain pretraining is reused where no ImageNet weights can be downloaded: a trunk trained on
    another chest X-ray task (e.g. the paediatric pneumonia model) carries over; the findings may differ.
    """
    if source.arch != target.arch:
        raise ConfigError(f"--init: the checkpoint is {source.arch}, this run trains {target.arch}")
    target.trunk.load_state_dict(source.trunk.state_dict())
