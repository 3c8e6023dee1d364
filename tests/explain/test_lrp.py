"""LRP with Zennit: known-answer localisation, correct canonizers, untouched model, refusal where not validated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chestxai.errors import ConfigError
from chestxai.explain import LRP, explain
from chestxai.explain.lrp import densenet_canonizers

from explain_helpers import distractor_image, region_in_image


def test_known_answer_maximum_in_the_region(region_model) -> None:
    image = distractor_image()
    smap = explain(region_model, [image], "lrp", "effusion", canonizers=[])[0].map
    inside = region_in_image(image.shape)
    assert inside[np.unravel_index(np.argmax(smap), smap.shape)]
    assert smap[~inside].max() < 0.05


def test_densenet_merges_only_conv_norm_pairs(densenet) -> None:
    """Each merged norm directly follows its convolution (same channel count), never a concatenation."""
    (canonizer,) = densenet_canonizers(densenet)
    modules = dict(densenet.named_modules())
    assert len(canonizer.name_map) == 1 + 58  # conv0/norm0 + one pair per dense layer of DenseNet-121
    for (conv,), norm in canonizer.name_map:
        assert modules[conv].out_channels == modules[norm].num_features


def test_lrp_leaves_the_model_unchanged(densenet) -> None:
    x = densenet.preprocess.batch([np.random.default_rng(0).random((32, 32), np.float32)])
    before = {k: v.clone() for k, v in densenet.state_dict().items()}
    with torch.no_grad():
        logits = densenet(x)
    smap = explain(densenet, x, "lrp", "effusion")[0]
    assert smap.probability == pytest.approx(torch.sigmoid(logits[0, 0]).item(), abs=1e-4)  # merged BN: same output
    for key, value in densenet.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_unknown_composite_and_unsupported_model_are_clear_errors(region_model, densenet) -> None:
    with pytest.raises(ConfigError, match="unknown Zennit composite 'magic'"):
        LRP(densenet, composite="magic")
    with pytest.raises(ConfigError, match="LRP is available for densenet, resnet, vgg models, not region-test"):
        LRP(region_model)


def test_efficientnet_lite_is_refused_in_one_line() -> None:
    from chestxai.models.classifier import Classifier

    lite = Classifier(["effusion"], "efficientnet_lite0")
    with pytest.raises(ConfigError, match="not efficientnet_lite0; use gradcam") as err:
        LRP(lite)
    assert "\n" not in str(err.value)
