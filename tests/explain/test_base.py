"""The one interface: every method, every architecture -> maps at the image's size in [0, 1]; clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chestxai.data.preprocess import Preprocess
from chestxai.errors import ConfigError, UnknownFindingError
from chestxai.explain import METHODS, SaliencyMap, explain, get_method, parse_methods
from chestxai.models import ARCHITECTURES, Classifier

from explain_helpers import SIZE

FAST = {"occlusion": {"patch": 16, "stride": 16}}  # 4 windows: the shape contract, not the resolution


def _maps_are_image_sized(model: Classifier, method: str, images: list[np.ndarray]) -> list[SaliencyMap]:
    maps = explain(model, images, method, "effusion", **FAST.get(method, {}))
    assert [m.map.shape for m in maps] == [im.shape for im in images]
    for m in maps:
        assert m.map.dtype == np.float32 and m.method == method and m.target == "effusion"
        assert np.isfinite(m.map).all() and m.map.min() >= 0.0 and m.map.max() <= 1.0
        assert 0.0 < m.probability < 1.0
    return maps


@pytest.mark.parametrize("arch", [a for a in ARCHITECTURES if a != "inception_resnet_v2"])
def test_every_method_gives_image_sized_maps_in_unit_range(arch: str) -> None:
    torch.manual_seed(0)
    model = Classifier(["effusion", "pneumonia"], arch, Preprocess(SIZE)).eval()
    rng = np.random.default_rng(0)
    images = [rng.random((40, 52), np.float32), rng.random((29, 23), np.float32)]  # non-square, up and down
    for method in METHODS:
        if method == "lrp" and arch.startswith("efficientnet_lite"):  # refused: its relevance is not conserved
            with pytest.raises(ConfigError, match=f"LRP is available for .*, not {arch}"):
                _maps_are_image_sized(model, method, images)
            continue
        _maps_are_image_sized(model, method, images)


def test_inception_resnet_v2_maps_and_lrp_refusal() -> None:
    """One quick case at its minimum size (128 px); LRP is refused by name rather than given unconserved."""
    torch.manual_seed(0)
    model = Classifier(["effusion"], "inception_resnet_v2", Preprocess(128)).eval()
    image = np.random.default_rng(1).random((150, 130), np.float32)
    for method in ("gradcam", "gradient_x_input", "silhouette"):
        _maps_are_image_sized(model, method, [image])
    with pytest.raises(ConfigError, match="LRP is available for densenet, resnet, vgg"):
        get_method("lrp")(model)


def test_preprocessed_tensor_gives_model_resolution_maps(densenet: Classifier) -> None:
    x = densenet.preprocess.batch([np.random.default_rng(0).random((50, 50), np.float32)] * 3)
    maps = explain(densenet, x, "gradient_x_input", 0)
    assert len(maps) == 3 and all(m.map.shape == (SIZE, SIZE) for m in maps)
    assert maps[0].target == "effusion"


def test_probability_is_the_models(densenet: Classifier) -> None:
    image = np.random.default_rng(2).random((40, 40), np.float32)
    expected = densenet.predict([image])[0, 1]
    for method in ("gradcam", "gradient_x_input", "silhouette"):
        assert explain(densenet, [image], method, "pneumonia")[0].probability == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("method", ["gradcampp", "gradient_x_input"])
def test_batching_does_not_change_maps(method: str) -> None:
    torch.manual_seed(0)
    model = Classifier(["effusion"], "densenet121", Preprocess(64)).eval()  # 2 x 2 feature map: a real CAM
    images = [np.random.default_rng(i).random((70, 60), np.float32) for i in range(3)]
    together = explain(model, images, method, "effusion", batch_size=3)
    one_by_one = explain(model, images, method, "effusion", batch_size=1)
    for a, b in zip(together, one_by_one):
        assert a.map.max() == 1.0
        np.testing.assert_allclose(a.map, b.map, atol=1e-4)


def test_unknown_method_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown explanation method 'gradcamm'; choose from: gradcam"):
        get_method("gradcamm")
    with pytest.raises(ConfigError, match="unknown explanation method 'shap'"):
        parse_methods("gradcam, shap")
    with pytest.raises(ConfigError, match="no explanation method"):
        parse_methods(" , ")
    assert parse_methods("occlusion, gradcam,occlusion") == ["occlusion", "gradcam"]


def test_unknown_finding_is_a_clear_error(densenet: Classifier) -> None:
    with pytest.raises(UnknownFindingError, match="does not know finding 'cardiomegaly'"):
        explain(densenet, [np.zeros((32, 32), np.float32)], "gradcam", "cardiomegaly")


@pytest.mark.parametrize("images", [[np.zeros((2, 32, 32), np.float32)], torch.zeros(1, 3, 32, 32)])
def test_wrongly_shaped_input_is_a_clear_error(densenet: Classifier, images) -> None:
    with pytest.raises(ConfigError, match="2-D grey array|\\[N, 1, S, S\\]"):
        explain(densenet, images, "gradcam", "effusion")


def test_empty_input_and_bad_batch_size(densenet: Classifier) -> None:
    assert explain(densenet, [], "gradcam", "effusion") == []
    with pytest.raises(ConfigError, match="batch_size"):
        get_method("gradcam")(densenet, batch_size=0)


def test_close_removes_every_hook(densenet: Classifier) -> None:
    layer = densenet.target_layer
    before = len(layer._forward_hooks)
    with get_method("gradcam")(densenet) as method:
        assert len(layer._forward_hooks) == before + 1
        method.explain([np.zeros((32, 32), np.float32)], 0)
    assert len(layer._forward_hooks) == before


def test_every_registered_method_is_evaluated_by_default() -> None:
    from chestxai.explain import EVALUATED_METHODS

    assert sorted(EVALUATED_METHODS) == sorted(METHODS)
    from chestxai.explain import parse_methods

    assert parse_methods(None) == list(EVALUATED_METHODS)
