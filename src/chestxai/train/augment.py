"""Training augmentation with albumentations, on the cached uint8 images (cheap: no re-decoding).

Each transform of the source recipe is switchable by name so an ablation is one flag. Magnitudes are mild: a
radiograph's geometry carries the diagnosis (a blunted costophrenic angle is a few pixels), so strong warps hurt.
"""

from __future__ import annotations

import albumentations as A
import cv2

from chestxai.errors import ConfigError

AUGMENTATIONS = ("flip", "brightness", "elastic", "blur", "rotate", "affine", "crop")


def parse_augmentations(text: str | None) -> tuple[str, ...]:
    """``"all"``/None -> every augmentation; ``"none"`` -> none; else a comma list of names."""
    if text is None or text.strip().lower() == "all":
        return AUGMENTATIONS
    if text.strip().lower() in ("none", ""):
        return ()
    names = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ConfigError(f"unknown augmentation(s) {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)}")
    return names


def build_augmentation(names: tuple[str, ...], image_size: int, seed: int = 0) -> A.Compose:
    """The albumentations pipeline for ``names`` (order fixed: geometry first, then intensity)."""
    border = {"border_mode": cv2.BORDER_CONSTANT, "fill": 0}
    available = {
        "crop": A.RandomResizedCrop(size=(image_size, image_size), scale=(0.8, 1.0), ratio=(0.9, 1.1), p=0.5),
        "flip": A.HorizontalFlip(p=0.5),
        "rotate": A.Rotate(limit=10, p=0.5, **border),
        "affine": A.Affine(scale=(0.9, 1.1), translate_percent=(-0.05, 0.05), p=0.5, **border),
        "elastic": A.ElasticTransform(alpha=image_size * 0.1, sigma=image_size * 0.05, p=0.2, **border),
        "brightness": A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.5),
        "blur": A.GaussianBlur(blur_limit=(3, 5), p=0.2),
    }
    order = ("crop", "flip", "rotate", "affine", "elastic", "brightness", "blur")
    return A.Compose([available[n] for n in order if n in names], seed=seed)
