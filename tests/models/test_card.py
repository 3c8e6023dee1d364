"""The model card: card.json and MODEL_CARD.md written together, the shipped pair reproduced byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from chestxai.models.card import read_card, write_card
from chestxai.models.zoo import MODELS


@pytest.mark.parametrize("name", ["nih-adult", "kermany-paediatric"])
def test_write_card_reproduces_the_shipped_pair(name: str, tmp_path: Path) -> None:
    write_card(tmp_path, read_card(MODELS / name))
    for file in ("card.json", "MODEL_CARD.md"):
        assert (tmp_path / file).read_bytes() == (MODELS / name / file).read_bytes(), file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MODEL_CARD.md", "card.json"]  # no temporary left over
