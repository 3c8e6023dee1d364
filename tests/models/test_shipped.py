"""The shipped models: they load by name, and their cards' numbers are what the files really do."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from chestxai import load_model
from chestxai.cli import main
from chestxai.data.datasets import load_dataset
from chestxai.errors import CheckpointError
from chestxai.models.zoo import SAMPLES, model_card, sample_folder, shipped_models

SHIPPED = sorted(shipped_models())


def test_the_default_model_is_the_adult_nih_model() -> None:
    model = load_model()
    assert model.checkpoint_meta["shipped_name"] == "nih-adult"
    assert {"effusion", "pneumonia", "normal"} <= set(model.findings)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_file_is_small_and_has_a_card(name: str) -> None:
    assert shipped_models()[name].stat().st_size <= 30 * 2**20
    card = model_card(name)
    text = (shipped_models()[name].parent / "MODEL_CARD.md").read_text()
    assert "not a medical device" in text
    assert set(card["thresholds"]) == set(card["findings"]) == set(card["validation"])


@pytest.mark.parametrize("name", SHIPPED)
def test_recorded_sample_auc_is_recomputed_from_the_shipped_files(name: str) -> None:
    model, card = load_model(name), model_card(name)
    data = load_dataset(sample_folder(name), findings=model.findings)
    probs = model.predict(list(data.meta["path"]))
    for j, finding in enumerate(model.findings):
        y = data.labels[:, j]
        known = ~np.isnan(y)
        recomputed = roc_auc_score(y[known], probs[known, j])
        assert recomputed == pytest.approx(card["sample_auc"][finding]["auc"], abs=0.005), finding


@pytest.mark.parametrize("name", SHIPPED)
def test_examples_fall_on_the_recorded_side_of_the_threshold(name: str) -> None:
    model, card = load_model(name), model_card(name)
    folder = sample_folder(name)
    examples = card["examples"]
    assert {e["label"] for e in examples} == {0, 1}
    probs = model.predict([folder / e["image"] for e in examples])
    for e, p in zip(examples, probs):
        j = model.findings.index(e["finding"])
        assert (p[j] >= card["thresholds"][e["finding"]]) == bool(e["label"]), e
        assert p[j] == pytest.approx(e["probability"], abs=0.01)


def test_shipped_samples_stay_small_and_credit_their_source() -> None:
    total = sum(f.stat().st_size for f in SAMPLES.rglob("*") if f.is_file())
    assert total <= 15 * 2**20
    for folder in SAMPLES.iterdir():
        text = (folder / "ATTRIBUTION.md").read_text()
        assert "Changes:" in text and re.search(r"et al\.?,? .*(19|20)\d\d", text), folder.name


def test_unknown_name_names_the_shipped_ones() -> None:
    with pytest.raises(CheckpointError, match="nih-adult"):
        load_model("no-such-model")


def test_models_command_lists_headline_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == SHIPPED
    assert sum(r["default"] for r in rows) == 1
    assert all(Path(r["card"]).is_file() and r["test_auc"] for r in rows)


def test_models_command_gives_the_within_source_figure_with_its_qualifier(capsys: pytest.CaptureFixture[str]) -> None:
    card = model_card("nih-adult")
    (within,) = card["test"]["pneumonia"]["within_source"].values()
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert f"pneumonia {within['auc']:.3f} (within one source" in text
    assert f"{card['test']['pneumonia']['auc']:.3f} across sources" in text
