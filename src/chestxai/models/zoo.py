"""Shipped models by name, or a checkpoint path: what ``--model`` and ``chestxai.load_model`` accept.

Layout of the package's ``assets`` folder (written by ``release/ship_model.py``, never by hand)::

    assets/models/<name>/model.pt       half-precision checkpoint (decision thresholds in its metadata)
    assets/models/<name>/card.json      the model card's numbers (what ``chestxai models`` prints, tests re-check)
    assets/models/<name>/MODEL_CARD.md  the model card for people
    assets/samples/<sample>/            held-out example images of the model's data (labels.csv, boxes.csv, images/)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chestxai.errors import CheckpointError
from chestxai.models.checkpoint import load_checkpoint
from chestxai.models.classifier import Classifier

ASSETS = Path(__file__).resolve().parent.parent / "assets"
MODELS = ASSETS / "models"
SAMPLES = ASSETS / "samples"
DEFAULT_MODEL = "nih-adult"


def shipped_models() -> dict[str, Path]:
    """Name -> checkpoint file of every model shipped in ``chestxai/assets/models``."""
    if not MODELS.is_dir():
        return {}
    return {d.name: d / "model.pt" for d in sorted(MODELS.iterdir()) if (d / "model.pt").is_file()}


def model_card(name: str) -> dict[str, Any]:
    """The machine-readable card of shipped model ``name`` (empty when it has none)."""
    path = MODELS / name / "card.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def headline_aucs(card: dict[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """Each finding's held-out AUC as the card states it: for a finding learned only within the source where it
    varies (``within_source``), the AUC within that source, with a qualifier saying so and giving the other."""
    results = card.get("test") or card.get("validation") or {}
    headline, qualifiers = {}, {}
    for finding, entry in results.items():
        within = (entry.get("within_source") or {}) if finding in (card.get("within_source") or []) else {}
        if len(within) == 1:
            ((source, inside),) = within.items()
            headline[finding] = round(inside["auc"], 3)
            qualifiers[finding] = f"within one source, {source}; {entry['auc']:.3f} across sources"
        else:
            headline[finding] = round(entry["auc"], 3)
    return headline, qualifiers


def sample_folder(name: str) -> Path:
    """The shipped held-out sample images of shipped model ``name`` (a folder ``--data`` accepts)."""
    sample = model_card(name).get("sample")
    if not sample or not (SAMPLES / sample / "labels.csv").is_file():
        raise CheckpointError(f"shipped model {name!r} has no sample images")
    return SAMPLES / sample


def default_model_name() -> str:
    """The shipped model used when no ``--model`` is given: ``nih-adult``, else the first shipped one."""
    shipped = shipped_models()
    if not shipped:
        raise CheckpointError("no default model is shipped with this installation; pass --model CKPT")
    return DEFAULT_MODEL if DEFAULT_MODEL in shipped else next(iter(shipped))


def load_model(name_or_path: str | Path | None = None) -> Classifier:
    """Load a classifier: a checkpoint path, a shipped model name (``chestxai models``), or None = ``nih-adult``.

    A path loads that checkpoint; a name loads a shipped model; None loads the default shipped model
    (``chestxai.load_model`` is this function)."""
    shipped = shipped_models()
    if name_or_path is None:
        name_or_path = default_model_name()
    text = str(name_or_path)
    if text in shipped:
        model = load_checkpoint(shipped[text])
        model.checkpoint_meta["shipped_name"] = text
        return model
    if not Path(text).exists() and not text.endswith(".pt"):
        names = ", ".join(shipped) or "none shipped"
        raise CheckpointError(f"{text}: neither a checkpoint file nor a shipped model name ({names})")
    return load_checkpoint(text)
