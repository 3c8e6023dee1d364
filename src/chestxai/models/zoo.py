"""Shipped models by name, or a checkpoint path: what ``--model`` and ``chestxai.load_model`` accept."""

from __future__ import annotations

from pathlib import Path

from chestxai.errors import CheckpointError
from chestxai.models.checkpoint import load_checkpoint
from chestxai.models.classifier import Classifier

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def shipped_models() -> dict[str, Path]:
    """Name -> checkpoint file of every model shipped in ``chestxai/assets``."""
    return {p.stem: p for p in sorted(ASSETS.glob("*.pt"))} if ASSETS.is_dir() else {}


def resolve_model(name_or_path: str | Path | None) -> Classifier:
    """A path loads that checkpoint; a name loads a shipped model; None loads the default shipped model."""
    shipped = shipped_models()
    if name_or_path is None:
        if not shipped:
            raise CheckpointError("no default model is shipped with this installation; pass --model CKPT")
        return load_checkpoint(shipped.get("nih-adult", next(iter(shipped.values()))))
    text = str(name_or_path)
    if text in shipped:
        return load_checkpoint(shipped[text])
    if not Path(text).exists() and not text.endswith(".pt"):
        names = ", ".join(shipped) or "none shipped"
        raise CheckpointError(f"{text}: neither a checkpoint file nor a shipped model name ({names})")
    return load_checkpoint(text)
