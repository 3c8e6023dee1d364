"""Canonical finding names.

Every reader maps its dataset's spelling to one lower-case name so a model trained on CheXpert ("Pleural Effusion")
can be evaluated on NIH ("Effusion") and on ``../shared/data`` (``effusion``).
"""

from __future__ import annotations

import re

from chestxai.errors import UnknownFindingError

# Dataset spellings (lower-cased, punctuation squeezed to one space) -> canonical name.
_ALIASES: dict[str, str] = {
    "pleural effusion": "effusion",
    "effusion": "effusion",
    "no finding": "normal",
    "no findings": "normal",
    "normal": "normal",
    "pneumonia": "pneumonia",
    "lung opacity": "lung_opacity",
    "lung lesion": "lung_lesion",
    "enlarged cardiomediastinum": "enlarged_cardiomediastinum",
    "pleural other": "pleural_other",
    "support devices": "support_devices",
    "pleural thickening": "pleural_thickening",
    "pleural_thickening": "pleural_thickening",
}


def canonical_finding(name: str) -> str:
    """Return the canonical lower-case name of a finding as spelled by any supported dataset."""
    key = re.sub(r"[\s_\-/]+", " ", str(name).strip().lower())
    if not key:
        raise UnknownFindingError("empty finding name")
    return _ALIASES.get(key, key.replace(" ", "_"))


def parse_findings(text: str | list[str] | None) -> list[str] | None:
    """Parse ``"effusion,pneumonia"`` (or a list) into canonical names, keeping order, dropping repeats."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for item in items:
        if str(item).strip():
            name = canonical_finding(item)
            if name not in out:
                out.append(name)
    if not out:
        raise UnknownFindingError("no finding names given")
    return out
