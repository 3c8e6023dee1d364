"""Train a finding only where its label is not a stand-in for the image's source.

In ../shared/data almost every pneumonia positive comes from one source repository (65% positive there, 6% in the
other), and the two sources look different. Trained on both, a network can lower its pneumonia loss by
recognising the source, and then ranks pneumonia poorly *within* a source, which is the only honest figure. Blanking
the finding's label (NaN: masked out of the loss, the validation AUC and model selection) on the images of every
source where it almost never varies leaves only the contrast that exists inside a source to learn from. The images
stay in training for the other findings.
"""

from __future__ import annotations

import numpy as np

from chestxai.data.datasets.base import CXRDataset
from chestxai.errors import ConfigError, UnknownFindingError


def mask_confounded(
    dataset: CXRDataset, findings: list[str], column: str = "source", min_rate: float = 0.1
) -> tuple[CXRDataset, dict[str, list[str]]]:
    """A copy of ``dataset`` with each of ``findings`` unknown (NaN) in the ``column`` groups where its positive
    rate is below ``min_rate`` or above ``1 - min_rate``, and the groups blanked per finding.

    Nothing is blanked for a finding unless some group keeps both classes (else nothing would be left to learn)."""
    if not 0.0 < min_rate < 0.5:
        raise ConfigError(f"min_rate must be between 0 and 0.5, not {min_rate}")
    if column not in dataset.meta.columns:
        raise ConfigError(f"no column {column!r} in the dataset's metadata to find confounded groups in")
    unknown = [f for f in findings if f not in dataset.findings]
    if unknown:
        raise UnknownFindingError(f"finding(s) {', '.join(unknown)} not in the data ({', '.join(dataset.findings)})")
    labels = dataset.labels.copy()
    groups = dataset.meta[column].astype(str).to_numpy()
    blanked: dict[str, list[str]] = {}
    for finding in findings:
        col = labels[:, dataset.findings.index(finding)]  # a view: writes go into ``labels``
        known = {g: col[(groups == g) & ~np.isnan(col)] for g in np.unique(groups)}
        rates = {g: float(v.mean()) for g, v in known.items() if v.size}
        constant = [g for g, r in rates.items() if not min_rate <= r <= 1.0 - min_rate]
        if constant and len(constant) < len(rates):
            col[np.isin(groups, constant)] = np.nan
            blanked[finding] = constant
    masked = CXRDataset(list(dataset.findings), labels, dataset.meta, dataset.boxes, dataset.root,
                        list(dataset.skipped))
    return masked, blanked
