"""Every registered architecture builds, predicts the right shapes and exposes the right Grad-CAM layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from chestxai.data.preprocess import Preprocess
from chestxai.errors import ConfigError
from chestxai.models import ARCHITECTURES, Classifier
from chestxai.models import registry


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_predicts_and_exposes_last_feature_map(arch: str) -> None:
    size = max(64, ARCHITECTURES[arch].min_image_size)
    model = Classifier(["effusion", "pneumonia"], arch, Preprocess(size)).eval()
    captured: list[torch.Tensor] = []
    handle = model.target_layer.register_forward_hook(lambda m, i, o: captured.append(o))
    x = torch.randn(2, 1, size, size)
    with torch.no_grad():
        logits = model(x)
        fmap = model.feature_map(x)
    handle.remove()
    assert logits.shape == (2, 2)
    assert model.features(x).shape == (2, model.num_features)
    # The target layer's output *is* the map the head pools: Grad-CAM on it explains the logits.
    assert torch.equal(captured[0], fmap)
    assert not any(isinstance(m, nn.ReLU) and m.inplace for m in model.modules())


def test_densenet_final_relu_is_a_real_module() -> None:
    model = Classifier(["effusion"], "densenet121", Preprocess(64))
    assert isinstance(model.target_layer, nn.ReLU)
    assert model.target_layer.inplace is False


def test_unknown_architecture_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown architecture 'alexnet'"):
        Classifier(["effusion"], "alexnet")


def test_too_small_image_for_inception_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="image-size"):
        Classifier(["effusion"], "inception_resnet_v2", Preprocess(64))


def test_imagenet_weights_unreachable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(pretrained: bool):
        if pretrained:
            raise OSError("network is unreachable")
        raise AssertionError("should ask for weights")

    monkeypatch.setitem(registry.ARCHITECTURES, "densenet121", registry.ArchSpec(offline, 32))
    with pytest.raises(ConfigError, match="use --pretrained none"):
        registry.build_backbone("densenet121", "imagenet")


def test_grey_input_is_repeated_to_three_channels() -> None:
    model = Classifier(["effusion"], "resnet50", Preprocess(64)).eval()
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), model(x.expand(-1, 3, -1, -1)))


def test_target_layer_is_not_registered_twice() -> None:
    model = Classifier(["effusion"], "resnet50", Preprocess(64))
    keys = list(model.state_dict())
    assert not any(k.startswith("_target_layer") for k in keys)
    assert model.target_layer is model.trunk[7]  # layer4, found by name inside the trunk
