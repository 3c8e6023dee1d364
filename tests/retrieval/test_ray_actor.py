"""The Ray embedding actor, without Ray: scripted CNN vectors equal the embedder's, its module imports only what an
actor needs, and the driver's TorchScript is cached per model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chestxai.models.classifier import Classifier
from chestxai.retrieval import ray_index
from chestxai.retrieval.api import load_embedder
from chestxai.retrieval.ray_actor import EmbedActor, script_features


def _batch(model: Classifier, n: int, bad: int) -> dict[str, np.ndarray]:
    size = model.preprocess.image_size
    pixels = np.random.default_rng(0).integers(0, 256, (n, size, size), dtype=np.uint8)
    error = np.asarray(["unreadable" if i == bad else "" for i in range(n)], dtype=object)
    return {"row": np.arange(n), "pixels": pixels, "error": error}


def test_scripted_actor_gives_the_embedders_vectors(tiny_checkpoint: Path) -> None:
    embedder = load_embedder("cnn", str(tiny_checkpoint))
    batch = _batch(embedder.model, 5, bad=2)
    actor = EmbedActor(script_features(embedder.model), embedder.preprocess, embedder.dim, 1, batch_size=2)
    out = actor(batch)
    assert "pixels" not in out and out["vector"].shape == (5, embedder.dim)
    ok = [0, 1, 3, 4]
    np.testing.assert_allclose(out["vector"][ok], embedder.embed(list(batch["pixels"][ok])), atol=1e-5)
    assert not out["vector"][2].any()  # an unreadable file gets no vector
    assert np.all(out["embed_start"] <= out["embed_end"])


def test_actor_module_imports_neither_torchvision_nor_the_catalogue() -> None:
    """The point of the module: an actor's start-up imports torch (inside the actor), not torchvision, pandas,
    SciPy or FAISS (seconds per actor per run)."""
    code = ("import sys, chestxai.retrieval.ray_actor; "
            "print(sorted(m for m in ('torch', 'torchvision', 'pandas', 'scipy', 'faiss') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_scripted_cnn_is_traced_once_per_model(tiny_checkpoint: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHESTXAI_CACHE", str(tmp_path))
    embedder = load_embedder("cnn", str(tiny_checkpoint))
    first = ray_index.scripted_cnn(embedder)
    assert len(list((tmp_path / "torchscript").glob("*.pt"))) == 1

    def no_trace(model: Classifier) -> bytes:
        raise AssertionError("traced again")

    monkeypatch.setattr(ray_index, "script_features", no_trace)
    assert ray_index.scripted_cnn(embedder) == first
