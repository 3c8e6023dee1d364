"""The sample catalogue: built from the shipped cases on first use, reused afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from chestxai.data.datasets import load_dataset
from chestxai.errors import ConfigError
from chestxai.models.zoo import sample_folder
from chestxai.retrieval.api import catalogue_info, search_file
from chestxai.retrieval.sample import default_catalogue


def test_default_catalogue_is_built_once_and_searchable(tmp_path: Path) -> None:
    root = default_catalogue(root=tmp_path / "cat")
    n = len(load_dataset(sample_folder("nih-adult")))
    assert catalogue_info(root) == {"cases": n, "embedders": ["cnn"]}
    before = (root / "catalogue.sqlite").stat().st_mtime_ns if (root / "catalogue.sqlite").exists() else None
    assert default_catalogue(root=root) == root
    if before is not None:
        assert (root / "catalogue.sqlite").stat().st_mtime_ns == before
    query = next((sample_folder("nih-adult") / "images").iterdir())
    hits = search_file(root, query, k=3)
    assert len(hits) == 3 and hits[0][1] == pytest.approx(1.0, abs=1e-4)  # the query itself is a sample case


def test_a_checkpoint_path_has_no_sample_catalogue(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="shipped models"):
        default_catalogue(tmp_path / "model.pt", root=tmp_path / "cat")
