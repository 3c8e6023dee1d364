"""Blanking a finding in the sources where its label only says which source the image came from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chestxai.data.confound import mask_confounded
from chestxai.data.datasets.base import CXRDataset
from chestxai.errors import ConfigError, UnknownFindingError


def _dataset() -> CXRDataset:
    """Source A: pneumonia in 6 of 10; source B: pneumonia in 1 of 40. Effusion ~20% in both."""
    pneumonia = [1] * 6 + [0] * 4 + [1] + [0] * 39
    effusion = ([1, 0, 0, 0, 0] * 10)[:50]
    meta = pd.DataFrame({"path": [f"/x/{i}.png" for i in range(50)], "source": ["A"] * 10 + ["B"] * 40})
    return CXRDataset(["effusion", "pneumonia"], np.array([effusion, pneumonia], np.float32).T, meta)


def test_blanks_only_the_source_where_the_finding_hardly_varies() -> None:
    data = _dataset()
    masked, blanked = mask_confounded(data, ["pneumonia", "effusion"])
    assert blanked == {"pneumonia": ["B"]}
    assert np.isnan(masked.labels[10:, 1]).all()
    np.testing.assert_array_equal(masked.labels[:10, 1], data.labels[:10, 1])
    np.testing.assert_array_equal(masked.labels[:, 0], data.labels[:, 0])  # effusion varies in both: untouched
    assert not np.isnan(data.labels).any()  # the input is not modified


def test_nothing_blanked_when_no_source_has_both_classes() -> None:
    data = _dataset()
    data.labels[:, 1] = 0.0
    masked, blanked = mask_confounded(data, ["pneumonia"])
    assert blanked == {} and not np.isnan(masked.labels).any()


def test_bad_arguments_are_named() -> None:
    with pytest.raises(UnknownFindingError, match="edema"):
        mask_confounded(_dataset(), ["edema"])
    with pytest.raises(ConfigError, match="column 'hospital'"):
        mask_confounded(_dataset(), ["pneumonia"], column="hospital")
    with pytest.raises(ConfigError, match="min_rate"):
        mask_confounded(_dataset(), ["pneumonia"], min_rate=0.7)
