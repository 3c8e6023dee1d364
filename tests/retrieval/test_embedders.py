"""Embedders: shapes, normalisation, the vectorised SSIM equals scikit-image, IG-CBIR over an injected saliency."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from chestxai.errors import ConfigError
from chestxai.retrieval.embedders import (
    CNNEmbedder,
    IGCBIREmbedder,
    SSIMScorer,
    build_embedder,
    model_fingerprint,
    ssim_scores,
)


def _images(n: int, size: int = 40, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((size, size)).astype(np.float32) for _ in range(n)]


def test_ssim_scores_equal_scikit_image() -> None:
    rng = np.random.default_rng(1)
    query = rng.random((32, 32))
    cands = np.stack([query * 0.5 + rng.random((32, 32)) * 0.5 for _ in range(4)] + [query])
    ours = ssim_scores(query, cands)
    ref = [structural_similarity(query, c, data_range=1.0) for c in cands]
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
    assert ours[-1] == pytest.approx(1.0)


def test_ssim_scorer_accepts_uint8_and_float() -> None:
    im = _images(1)[0]
    scorer = SSIMScorer(16)
    as_uint8 = np.rint(im * 255).astype(np.uint8)
    assert scorer.score(im, scorer.pixels([as_uint8]))[0] > 0.95


def test_cnn_embedding_is_unit_length_and_deterministic(tiny_model) -> None:
    emb = CNNEmbedder(tiny_model)
    images = _images(3)
    a, b = emb.embed(images), emb.embed(images)
    assert a.shape == (3, tiny_model.num_features) == (3, emb.dim) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a, b)
    # pre-resized uint8 input (the cached form) gives the same vectors as decoding
    cached = np.stack([tiny_model.preprocess.resize_uint8(im) for im in images])
    np.testing.assert_allclose(emb.embed(list(cached)), a, atol=1e-6)
    assert emb.embed([]).shape == (0, emb.dim)


def test_model_hash_changes_with_weights(tiny_model) -> None:
    before = model_fingerprint(tiny_model)
    with __import__("torch").no_grad():
        tiny_model.head.bias += 1.0
    assert model_fingerprint(tiny_model) != before


def test_igcbir_embeds_saliency_maps_with_l2(tiny_model, tiny_checkpoint, brightness_saliency) -> None:
    from chestxai.models.checkpoint import load_checkpoint

    calls = []

    def saliency(model, x):
        calls.append(x.shape)
        return brightness_saliency(model, x)

    emb = IGCBIREmbedder(tiny_model, load_checkpoint(tiny_checkpoint), saliency)
    out = emb.embed(_images(3))
    assert out.shape == (3, emb.dim) and emb.metric == "l2"
    assert calls and calls[0][1:] == (1, 32, 32)
    assert not np.allclose(np.linalg.norm(out, axis=1), 1.0)  # raw features: compared with L2, not cosine


def test_igcbir_without_its_network_is_a_user_error(tiny_model) -> None:
    with pytest.raises(ConfigError, match="--igcbir-model"):
        build_embedder("igcbir", tiny_model)
    with pytest.raises(ConfigError, match="unknown embedder"):
        build_embedder("sift", tiny_model)
