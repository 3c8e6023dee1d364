"""chestxai: an explainable chest X-ray assistant (findings, saliency maps, their evaluation, similar cases)."""

from __future__ import annotations

__version__ = "0.1.0"

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chestxai.models.classifier import Classifier


def load_model(name_or_path: str | Path | None = None) -> "Classifier":
    """Load a classifier: a checkpoint path, a shipped model name (``chestxai models``), or None = ``nih-adult``."""
    from chestxai.models.zoo import resolve_model

    return resolve_model(name_or_path)


__all__ = ["__version__", "load_model"]
