"""Models: the architecture registry, the shared classifier and checkpoints."""

from chestxai.models.checkpoint import load_checkpoint, save_checkpoint
from chestxai.models.classifier import Classifier
from chestxai.models.registry import ARCHITECTURES, DEFAULT_ARCH

__all__ = ["ARCHITECTURES", "DEFAULT_ARCH", "Classifier", "load_checkpoint", "save_checkpoint"]
