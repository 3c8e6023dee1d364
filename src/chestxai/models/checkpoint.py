"""One checkpoint file = weights + plain metadata; loading never unpickles arbitrary objects.

``torch.load(..., weights_only=True)`` only accepts tensors and plain containers/numbers/strings, so a checkpoint
from an untrusted source cannot run code. The metadata carries everything needed to use the model elsewhere:
architecture, finding names, preprocessing, training metrics and the command that produced it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from chestxai._version import __version__
from chestxai.data.atomic import atomic_path
from chestxai.data.preprocess import Preprocess
from chestxai.errors import CheckpointError
from chestxai.models.classifier import Classifier

FORMAT = "chestxai-checkpoint"
FORMAT_VERSION = 1


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` that readers never see half-written (a checkpoint is read while training writes the next),
    fsynced: a checkpoint can hold hours of training (:mod:`chestxai.data.atomic`)."""
    with atomic_path(path, durable=True) as tmp:
        torch.save(obj, tmp)


def model_meta(model: Classifier) -> dict[str, Any]:
    """Plain (JSON-safe) description of ``model``, enough to rebuild it."""
    meta = {"arch": model.arch, "findings": list(model.findings), "preprocess": model.preprocess.to_dict()}
    if bool(model.logit_shift.any()):
        meta["logit_shift"] = {f: float(v) for f, v in zip(model.findings, model.logit_shift.tolist())}
    return meta


def save_checkpoint(
    model: Classifier,
    path: str | Path,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    half: bool = False,
) -> None:
    """Save ``model`` with its metadata; ``half`` stores float tensors as float16 (half the size, for shipping)."""
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    meta = {**model_meta(model), "metrics": metrics or {}, "chestxai_version": __version__, **(extra or {})}
    atomic_torch_save({"format": FORMAT, "format_version": FORMAT_VERSION, "state_dict": state, "meta": meta}, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw payload of a checkpoint (weights-only unpickling), checked to be a chestxai checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a chestxai checkpoint")
    return payload


def load_checkpoint(path: str | Path) -> Classifier:
    """Rebuild the classifier stored at ``path`` (weights cast back to float32, eval mode)."""
    payload = read_checkpoint(path)
    meta = payload["meta"]
    model = Classifier(meta["findings"], meta["arch"], Preprocess.from_dict(meta["preprocess"]))
    # ``_target_layer.*`` keys: checkpoints of 0.1.0 development builds stored the Grad-CAM layer twice.
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()
             if not k.startswith("_target_layer.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match {meta['arch']} ({str(exc)[:120]})") from None
    model.set_logit_shift(meta.get("logit_shift"))
    model.checkpoint_meta = meta
    return model.eval()


def decision_thresholds(model: Classifier, default: float) -> dict[str, float]:
    """Per-finding decision thresholds: those the checkpoint stores (shipped models), else ``default``."""
    stored = (getattr(model, "checkpoint_meta", {}) or {}).get("thresholds") or {}
    return {f: float(stored.get(f, default)) for f in model.findings}
