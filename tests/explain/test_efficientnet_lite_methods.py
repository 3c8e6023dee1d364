"""Every saliency method but LRP (refused, see test_lrp) works on an EfficientNet-Lite classifier; so do the CNN and
IG-CBIR embedders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chestxai.data.preprocess import Preprocess
from chestxai.explain import explain
from chestxai.models import Classifier
from chestxai.retrieval.embedders import CNNEmbedder, IGCBIREmbedder


@pytest.fixture(scope="module")
def lite() -> Classifier:
    torch.manual_seed(0)
    model = Classifier(["effusion", "pneumonia"], "efficientnet_lite0", Preprocess(64, 0.5, 0.5)).eval()
    with torch.no_grad():
        model.head.bias.fill_(1.0)  # a positive logit, so CAM maps are not empty by chance
    return model


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random((80, 80), np.float32) for _ in range(2)]


@pytest.mark.parametrize("method", ["gradcam", "gradcampp", "gradient_x_input", "smoothgrad", "occlusion"])
def test_method_gives_a_full_size_map_for_the_model_probability(lite, images, method) -> None:
    maps = explain(lite, images, method, "effusion")
    probs = lite.predict(images)[:, 0]
    assert len(maps) == 2
    for smap, p in zip(maps, probs):
        assert smap.map.shape == (80, 80) and np.isfinite(smap.map).all()
        assert smap.map.max() > 0 and smap.map.min() >= 0
        assert smap.probability == pytest.approx(float(p), abs=1e-4)


def test_gradcam_reads_the_last_feature_map(lite, images) -> None:
    """Grad-CAM's layer is the 1280-channel map the head pools (2 x 2 at 64 px), not an earlier block."""
    seen = []
    handle = lite.target_layer.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    try:
        explain(lite, images[:1], "gradcam", "effusion")
    finally:
        handle.remove()
    assert seen and seen[0] == (1, 1280, 2, 2)


def test_cnn_and_igcbir_embed_with_a_lite_network(lite, images) -> None:
    cnn = CNNEmbedder(lite).embed(images)
    assert cnn.shape == (2, 1280) and np.allclose(np.linalg.norm(cnn, axis=1), 1.0, atol=1e-5)
    ig = IGCBIREmbedder(lite, lite).embed(images)
    assert ig.shape == (2, 1280) and np.isfinite(ig).all() and not np.allclose(ig[0], ig[1])
