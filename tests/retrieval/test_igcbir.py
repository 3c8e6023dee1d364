"""IG-CBIR's embedder: saliency maps fed to a fine-tuned copy (training: tests/train/test_igcbir_training.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chestxai.data.datasets import load_dataset
from chestxai.models.checkpoint import load_checkpoint
from chestxai.retrieval.embedders import IGCBIREmbedder, explain_saliency


@pytest.fixture(scope="module")
def data(synthetic_dir: Path):
    return load_dataset(synthetic_dir, findings=["effusion", "pneumonia"]).subset(np.arange(48))


def test_default_saliency_is_gradcam_from_chestxai_explain(data, tiny_checkpoint: Path) -> None:
    pytest.importorskip("chestxai.explain")
    classifier = load_checkpoint(tiny_checkpoint)
    images = [data[i]["image"] for i in range(3)]
    fn = explain_saliency("gradcam", None)
    x = classifier.preprocess.batch(images)
    maps = fn(classifier, x)
    assert len(maps) == 3 and maps[0].shape == (32, 32) and 0.0 <= maps[0].min() <= maps[0].max() <= 1.0
    targeted = explain_saliency("gradcam", "effusion")(classifier, x)
    assert len(targeted) == 3
    emb = IGCBIREmbedder(classifier, load_checkpoint(tiny_checkpoint), fn)
    assert emb.embed(images).shape == (3, emb.dim)
