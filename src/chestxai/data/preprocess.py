"""Turn a decoded radiograph into the tensor a model expects, exactly as its checkpoint says.

The settings live inside every checkpoint (``Preprocess.to_dict``) so that prediction, explanation and retrieval
resize and normalise the way training did; a mismatch here silently ruins every probability.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

if TYPE_CHECKING:  # torch is imported where tensors are made: decode-only workers never load it
    import torch

# ImageNet's channel means/stds averaged to one grey channel, so ImageNet weights see familiar statistics.
GREY_MEAN = 0.449
GREY_STD = 0.226


@dataclass(frozen=True)
class Preprocess:
    """Grayscale -> square ``image_size`` -> (x - mean) / std, one channel (the model repeats it to 3)."""

    image_size: int = 224
    mean: float = GREY_MEAN
    std: float = GREY_STD

    def resize_uint8(self, image: np.ndarray) -> np.ndarray:
        """Resize a float [0, 1] image to ``image_size`` squared and quantise to uint8 (the cached form).

        Area interpolation when shrinking (anti-aliased, like a radiologist's viewer), linear when enlarging.
        """
        size = self.image_size
        interp = cv2.INTER_AREA if min(image.shape[:2]) >= size else cv2.INTER_LINEAR
        small = cv2.resize(np.ascontiguousarray(image, dtype=np.float32), (size, size), interpolation=interp)
        return np.clip(np.rint(small * 255.0), 0, 255).astype(np.uint8)

    def normalise(self, image_uint8: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 ``[..., H, W]`` -> float32 tensor ``[..., 1, H, W]`` normalised."""
        import torch

        if isinstance(image_uint8, torch.Tensor):
            t = image_uint8.to(torch.float32)
        else:  # a copy: cached arrays are read-only memory maps
            t = torch.from_numpy(np.asarray(image_uint8, dtype=np.float32).copy())
        t = t.div_(255.0)
        return ((t - self.mean) / self.std).unsqueeze(-3)

    def __call__(self, image: np.ndarray) -> torch.Tensor:
        """A decoded float image H x W in [0, 1] -> model input ``[1, S, S]``."""
        return self.normalise(self.resize_uint8(image))

    def batch(self, images: list[np.ndarray]) -> torch.Tensor:
        """Several decoded images -> ``[N, 1, S, S]``."""
        return self.normalise(np.stack([self.resize_uint8(im) for im in images]))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Preprocess":
        return cls(int(data["image_size"]), float(data["mean"]), float(data["std"]))
