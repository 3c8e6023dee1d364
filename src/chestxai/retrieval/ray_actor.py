"""The embedding actor of ``chestxai index --engine ray``, in a module whose import costs an actor almost nothing.

Why a module of its own, and why TorchScript: every actor of every run imports the module of its class (that is how
Ray unpickles it) and loads the model before it embeds anything, and that start-up is part of the run's wall time
(on 948 images with 2 workers it was a quarter of it, benchmarks/results/scale_index.md). Importing the catalogue and
the embedders pulls pandas, SciPy and FAISS (~1 s), and building the DenseNet imports torchvision, whose ops import
``torch._dynamo`` (~2.8 s). So the CNN embedder reaches the actors as TorchScript bytes traced by the driver
(:func:`script_features`): an actor imports numpy, OpenCV and torch, and nothing else. IG-CBIR, whose saliency maps
need the classifier's gradients, is loaded the ordinary way (:func:`chestxai.retrieval.api.load_embedder`).
"""

from __future__ import annotations

import io
import time
import warnings
from typing import Any

import numpy as np

from chestxai.data.preprocess import Preprocess
from chestxai.retrieval.vectors import l2_normalise, to_model_input


def script_features(model: Any) -> bytes:
    """The classifier's ``features`` method (the CNN embedding before L2 normalisation) as TorchScript bytes.

    A trace records the very aten calls of the eager model, so the vectors equal the local engine's (tested within
    1e-5). TorchScript is deprecated in favour of ``torch.export``, but loading an exported program imports the
    compiler stack this module exists to avoid; the deprecation warning is silenced here and in :func:`load_scripted`.
    """
    import torch

    size = model.preprocess.image_size
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            # the input-channel test in Classifier.feature_map is recorded for one-channel inputs, the only kind
            # the actors are given (to_model_input)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace_module(model, {"features": torch.zeros(1, 1, size, size)}, check_trace=False)
            buf = io.BytesIO()
            torch.jit.save(traced, buf)
    finally:
        model.train(was_training)
    return buf.getvalue()


def load_scripted(scripted: bytes, device: Any) -> Any:
    """TorchScript bytes from :func:`script_features` -> a module in eval mode on ``device``."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(io.BytesIO(scripted), map_location=device).eval()


class EmbedActor:
    """A Ray actor: loads the embedder once, then turns pixel batches into vectors.

    ``source`` is the CNN embedder as TorchScript bytes (run on the GPU when the actor holds one) or the user's
    embedder spec ``(name, model, igcbir model)`` for any other embedder (its own ``embed``, on CPU).
    """

    def __init__(self, source: bytes | tuple[str, str | None, str | None], pre: Preprocess, dim: int, threads: int,
                 batch_size: int = 32) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self.pre, self.dim, self.batch_size = pre, dim, batch_size
        self.model, self.embedder = None, None
        if isinstance(source, bytes):
            self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            self.model = load_scripted(source, self.device)
        else:
            from chestxai.retrieval.api import load_embedder

            self.embedder = load_embedder(*source)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Vectors for the readable rows, and when this batch entered and left the actor (wall clock, so the
        driver can tell the pool's start-up from its embedding rate)."""
        started = time.time()
        ok = np.asarray([e == "" for e in batch["error"]], bool)
        vectors = np.zeros((len(ok), self.dim), np.float32)
        if ok.any():
            vectors[ok] = self._embed(list(batch["pixels"][ok]))
        out = {k: v for k, v in batch.items() if k != "pixels"}
        out["vector"] = vectors
        out["embed_start"], out["embed_end"] = np.full(len(ok), started), np.full(len(ok), time.time())
        return out

    def _embed(self, pixels: list[np.ndarray]) -> np.ndarray:
        """The scripted CNN features, L2-normalised, in the embedder's batches; any other embedder's own ``embed``."""
        if self.embedder is not None:
            return self.embedder.embed(pixels)
        import torch

        x = to_model_input(pixels, self.pre)
        with torch.inference_mode():
            parts = [self.model.features(x[i : i + self.batch_size].to(self.device)).float().cpu().numpy()
                     for i in range(0, len(x), self.batch_size)]
        return l2_normalise(np.concatenate(parts))
