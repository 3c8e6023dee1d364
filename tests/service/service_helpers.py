"""Helpers of the service tests: files good and bad, a local TestClient, the analyze upload."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from chestxai.models.classifier import Classifier
from chestxai.service import ServiceConfig, create_app

LOCAL = ("127.0.0.1", 50000)  # TestClient's default client host "testclient" is not this machine
N_CASES = 12


def make_client(model: Classifier, catalogue: Path | None, **config) -> TestClient:
    """A fresh app (use as a context manager) with its own settings."""
    return TestClient(create_app(model, catalogue, config=ServiceConfig(**config)), client=LOCAL)


# --- files -------------------------------------------------------------------------------------------------------


def chest(height: int = 96, width: int = 80, seed: int = 0) -> np.ndarray:
    """A noisy grey 'radiograph' in [0, 1]."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0.4, 0.1, (height, width)), 0.0, 1.0)


def png(array: np.ndarray, fmt: str = "PNG") -> bytes:
    """Encode an array (uint8 grey/RGB/RGBA, uint16 grey) the way Pillow infers its mode."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def grey_png(height: int = 96, width: int = 80, seed: int = 0) -> bytes:
    return png((chest(height, width, seed) * 255).astype(np.uint8))


def png_bomb(side: int) -> bytes:
    """A real PNG of ``side`` x ``side`` black pixels: a few kB on the wire, side^2 bytes once decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    squeeze = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + one grey byte per pixel
    body = b"".join(squeeze.compress(row * 500) for _ in range(side // 500)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def upload(client: TestClient, data: bytes, name: str = "scan.png", **fields):
    """POST /api/v1/analyze with ``data`` as the file (k=2, Grad-CAM only unless given: fast)."""
    form = {"k": "2", "methods": "gradcam", **{k: str(v) for k, v in fields.items()}}
    return client.post("/api/v1/analyze", files={"file": (name, data, "application/octet-stream")}, data=form)
