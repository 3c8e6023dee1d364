"""Batch decoding for Ray indexing: the same pixels as the local path, skips, unreadable files, no torch import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from chestxai.data.decode import decode_batch
from chestxai.data.io import file_sha256, read_image
from chestxai.data.preprocess import Preprocess


def test_decode_batch_matches_local_preprocessing_and_skips(synthetic_dir: Path, tmp_path: Path) -> None:
    images = sorted((synthetic_dir / "images").glob("*.png"))[:3]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    paths = [*images, broken]
    pre, thumb = Preprocess(32), Preprocess(16)
    out = decode_batch({"row": np.arange(4), "path": np.asarray([str(p) for p in paths], dtype=object)},
                       pre, thumb, skip={file_sha256(images[1])})
    assert out["row"].tolist() == [0, 2, 3]  # the committed file is dropped before decoding
    assert out["hash"][0] == file_sha256(images[0]) and out["error"][:2].tolist() == ["", ""]
    assert (out["pixels"][0] == pre.resize_uint8(read_image(images[0]))).all()
    assert (out["thumb"][1] == thumb.resize_uint8(read_image(images[2]))).all()
    assert out["error"][2] and out["pixels"].shape == (3, 32, 32) and out["thumb"].shape == (3, 16, 16)


def test_decode_workers_do_not_import_torch() -> None:
    """Each Ray decode process imports this module: torch would cost it seconds of CPU before any work."""
    code = "import sys, chestxai.data.decode; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
