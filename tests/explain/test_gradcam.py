"""Grad-CAM / Grad-CAM++: right layer, equal to a CAM from cloned activations and to pytorch-grad-cam."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from chestxai.explain import GradCAM, GradCAMPlusPlus, explain
from chestxai.explain.base import normalise
from chestxai.models import Classifier

from explain_helpers import SIZE, distractor_image, region_in_image


def _batch(model: Classifier, n: int = 2) -> torch.Tensor:
    rng = np.random.default_rng(3)
    return model.preprocess.batch([rng.random((40, 40), np.float32) for _ in range(n)])


@pytest.fixture(scope="module")
def resnet() -> Classifier:
    torch.manual_seed(1)
    from chestxai.data.preprocess import Preprocess

    return Classifier(["effusion", "pneumonia"], "resnet50", Preprocess(64)).eval()


def test_cam_equals_cam_from_cloned_activations(resnet: Classifier) -> None:
    """The hooked map must be the values the head used, not a tensor something overwrote afterwards."""
    x = _batch(resnet)
    activation = resnet.feature_map(x).detach().clone().requires_grad_(True)
    logits = resnet.head(resnet.pool(activation).flatten(1))
    (grads,) = torch.autograd.grad(logits[:, 0].sum(), activation)
    cam = torch.relu((grads.mean(dim=(2, 3), keepdim=True) * activation).sum(1, keepdim=True))
    expected = F.interpolate(cam.detach(), size=(64, 64), mode="bilinear", align_corners=False)[:, 0].numpy()
    maps = explain(resnet, x, "gradcam", "effusion")
    for got, want in zip(maps, expected):
        np.testing.assert_allclose(got.map, normalise(want, minmax=True), atol=1e-5)


@pytest.mark.parametrize("ours, theirs", [(GradCAM, "GradCAM"), (GradCAMPlusPlus, "GradCAMPlusPlus")])
def test_matches_pytorch_grad_cam(resnet: Classifier, ours, theirs) -> None:
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    x = _batch(resnet, 3)
    with getattr(pytorch_grad_cam, theirs)(resnet, [resnet.target_layer]) as reference:
        expected = reference(x, [ClassifierOutputTarget(1)] * len(x))
    with ours(resnet) as method:
        got = np.stack([m.map for m in method.explain(x, "pneumonia")])
    assert got.shape == expected.shape == (3, 64, 64)
    assert expected.max() > 0.99  # a real CAM, not two empty maps agreeing
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_hook_is_inert_outside_explain(densenet: Classifier) -> None:
    """While a GradCAM exists the model still trains normally: gradients reach the first convolution."""
    with GradCAM(densenet) as method:
        method.explain([np.zeros((32, 32), np.float32)], 0)
        densenet.zero_grad()
        densenet(_batch(densenet)).sum().backward()
        first_conv = next(m for m in densenet.modules() if isinstance(m, torch.nn.Conv2d))
        assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0
        assert torch.is_grad_enabled()
    densenet.zero_grad()


def test_explain_leaves_grad_mode_as_it_was(densenet: Classifier) -> None:
    with torch.no_grad(), GradCAM(densenet) as method:
        method.explain([np.zeros((32, 32), np.float32)], 0)
        assert not torch.is_grad_enabled()


@pytest.mark.parametrize("method", ["gradcam", "gradcampp"])
def test_known_answer_maximum_in_the_region(region_model, method: str) -> None:
    image = distractor_image()
    smap = explain(region_model, [image], method, "effusion")[0].map
    peak = np.unravel_index(np.argmax(smap), smap.shape)
    assert region_in_image(image.shape)[peak]
    assert smap[:SIZE // 2 + 4, 28:].max() < 0.05  # the bright distractor gets nothing


def test_earlier_layer_matches_pytorch_grad_cam_on_that_layer(resnet: Classifier) -> None:
    """``layer=`` hooks another trunk module; the map must equal the reference library's CAM on that module."""
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    x = _batch(resnet, 2)
    layer = "6"  # torchvision layer3 (the trunk is a Sequential): 4 x 4 at 64 px, against 2 x 2 for the last block
    with pytorch_grad_cam.GradCAM(resnet, [resnet.trunk.get_submodule(layer)]) as reference:
        expected = reference(x, [ClassifierOutputTarget(0)] * len(x))
    with GradCAM(resnet, layer=layer) as method:
        got = np.stack([m.map for m in method.explain(x, "effusion")])
        assert method.params() == {"layer": layer}
    assert expected.max() > 0.99
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_unknown_layer_is_a_user_error(resnet: Classifier) -> None:
    from chestxai.errors import ConfigError

    with pytest.raises(ConfigError, match="no layer .layer9.*modules: 0, 1, .*6.0, "):
        GradCAM(resnet, layer="layer9")
