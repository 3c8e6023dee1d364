"""The README says what the shipped model does: its model-derived lines are exactly what
``release/readme_numbers.py`` computes from the shipped files now."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("readme_numbers", REPO / "release" / "readme_numbers.py")
readme_numbers = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(readme_numbers)


@pytest.mark.skipif(not (REPO.parent / "shared" / "data" / "images").is_dir(), reason="needs ../shared/data")
def test_readme_numbers_match_the_shipped_model() -> None:
    text = readme_numbers.README.read_text()
    assert readme_numbers.render(text, readme_numbers.facts()) == text, (
        "the README's numbers no longer match the shipped model: run python release/readme_numbers.py")


def test_a_drifted_number_is_caught() -> None:
    facts = {"predict": {"effusion": 0.5, "pneumonia": 0.1, "normal": 0.2}, "shot": {"effusion": 0.1,
             "pneumonia": 0.2, "normal": 0.9}, "shot_scope": "in_scope",
             "thresholds": {"effusion": 0.2, "pneumonia": 0.5, "normal": 0.3},
             "scope": {"a": {"scope": "in_scope"}, "b": {"scope": "in_scope"}},
             "cards": {n: {"own_test_in_scope": 0.5, "own_test_n": 10, "other_populations_flagged": {"x": 0.5},
                           "other_populations_refused": {"x": 0.0}, "other_populations_n": {"x": 4},
                           "non_radiographs_refused": 0.5, "non_radiographs_n": 9,
                           "fresh_non_radiographs_refused": 0.25, "fresh_non_radiographs_n": 8,
                           "fresh6_non_radiographs_refused": 0.995, "fresh6_non_radiographs_n": 7}
                       for n in ("nih-adult", "kermany-paediatric")}}
    text = readme_numbers.README.read_text()
    rendered = readme_numbers.render(text, facts)
    assert rendered != text and '"effusion": 0.500...' in rendered
    assert "negative for effusion (0.10 < 0.200)" in rendered
    assert "| 0.250 of 8 and 0.995 of 7 (goal 0.99: not met) | 0.500 of 9 |" in rendered
