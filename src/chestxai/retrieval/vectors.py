"""Pixels to model input and vectors to unit length: the two steps every CNN embedding shares.

They live apart from :mod:`chestxai.retrieval.embedders` because the Ray embedding actor needs them and nothing
else from retrieval: importing the embedders pulls SciPy and the model classes (torchvision), seconds of start-up in
every actor of every run (see :mod:`chestxai.retrieval.ray_actor`). This module imports only numpy and OpenCV.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from chestxai.data.preprocess import Preprocess

if TYPE_CHECKING:
    import torch


def to_model_input(images: Sequence[np.ndarray], pre: Preprocess) -> torch.Tensor:
    """Decoded float images or pre-resized uint8 arrays -> normalised ``[N, 1, S, S]`` for ``pre``."""
    size = pre.image_size
    resized = [
        im if (im.dtype == np.uint8 and im.shape == (size, size)) else pre.resize_uint8(np.asarray(im, np.float32))
        for im in (np.asarray(i) for i in images)
    ]
    return pre.normalise(np.stack(resized))


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), so inner product = cosine similarity."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)
