"""IG-CBIR's training recipe: fine-tuning a copy of the classifier on saliency maps, then indexing and searching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from chestxai.data.datasets import load_dataset
from chestxai.errors import ConfigError
from chestxai.models.checkpoint import load_checkpoint
from chestxai.retrieval.catalogue import Catalogue
from chestxai.retrieval.embedders import build_embedder, model_fingerprint
from chestxai.train.igcbir import train_igcbir


@pytest.fixture(scope="module")
def data(synthetic_dir: Path):
    return load_dataset(synthetic_dir, findings=["effusion", "pneumonia"]).subset(np.arange(48))


def test_train_igcbir_fine_tunes_a_copy(data, tiny_checkpoint: Path, tmp_path: Path, brightness_saliency) -> None:
    classifier = load_checkpoint(tiny_checkpoint)
    before = model_fingerprint(classifier)
    metrics = train_igcbir(classifier, data, tmp_path, method="brightness", saliency=brightness_saliency,
                           progress=False, log=lambda m: None, epochs=1, batch_size=16)
    assert metrics["config"]["epochs"] == 1 and metrics["config"]["augment"] == []
    assert model_fingerprint(classifier) == before  # the classifier itself is untouched
    network = load_checkpoint(tmp_path / "model.pt")
    assert model_fingerprint(network) != before
    assert network.checkpoint_meta["igcbir"] == {"saliency": "brightness", "target": None,
                                                 "classifier_hash": before}
    embedder = build_embedder("igcbir", classifier, network, saliency=brightness_saliency)
    cat = Catalogue(tmp_path / "cat")
    assert cat.add_dataset(data.subset(np.arange(10)), embedder).added == 10
    hits = cat.search(data[4]["image"], embedder, k=3)
    assert hits[0][0].image == data.paths[4] and hits[0][1] == pytest.approx(0.0, abs=1e-3)  # -L2 distance
    assert hits[1][1] < 0
    other = load_checkpoint(tiny_checkpoint)
    with torch.no_grad():
        other.head.bias += 1
    with pytest.raises(ConfigError, match="another classifier"):
        build_embedder("igcbir", other, network)
