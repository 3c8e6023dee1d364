"""Batch decoding for distributed indexing: hash, skip what is committed, decode, resize to model input + thumbnail.

Kept apart from the retrieval package on purpose: a Ray task imports the module its function lives in, and every
decode worker process that imported torch (the retrieval package does, through the embedders) spent ~3 s of CPU on
it before decoding anything, on the same two cores the embedding actors needed to start
(``benchmarks/results/scale_index.md``). This module needs only numpy, OpenCV and Pillow.
"""

from __future__ import annotations

import numpy as np

from chestxai.data.io import file_sha256, read_image
from chestxai.data.preprocess import Preprocess
from chestxai.errors import ChestXAIError


def decode_batch(batch: dict[str, np.ndarray], pre: Preprocess, thumb: Preprocess,
                 skip: set[str]) -> dict[str, np.ndarray]:
    """``{"row", "path"}`` -> ``{"row", "hash", "pixels", "thumb", "error"}``, files whose hash is in ``skip`` dropped.

    Unreadable files come back with ``error`` set (and blank pixels), so the driver reports them as the local
    engine does instead of failing the whole run.
    """
    rows, hashes, pixels, thumbs, errors = [], [], [], [], []
    size, t = pre.image_size, thumb.image_size
    for row, path in zip(batch["row"], batch["path"]):
        try:
            digest = file_sha256(str(path))
            if digest in skip:
                continue
            image = read_image(str(path))
            px, th, err = pre.resize_uint8(image), thumb.resize_uint8(image), ""
        except (ChestXAIError, OSError) as exc:
            digest, px, th, err = "", np.zeros((size, size), np.uint8), np.zeros((t, t), np.uint8), str(exc) or "unreadable"
        rows.append(int(row))
        hashes.append(digest)
        pixels.append(px)
        thumbs.append(th)
        errors.append(err)
    return {
        "row": np.asarray(rows, np.int64), "hash": np.asarray(hashes, dtype=object),
        "pixels": np.stack(pixels) if pixels else np.zeros((0, size, size), np.uint8),
        "thumb": np.stack(thumbs) if thumbs else np.zeros((0, t, t), np.uint8),
        "error": np.asarray(errors, dtype=object),
    }
