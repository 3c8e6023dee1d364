"""Fine-tune IG-CBIR's embedding network: a copy of the classifier trained on its own saliency maps.

The source paper (Silva et al. 2020) retrieves by the *evidence* the classifier used rather than by the whole image:
each image's saliency map is fed to a second network, initialised from the classifier and fine-tuned on saliency
maps with the same labels, whose penultimate features become the embedding. This module computes the maps once
(a uint8 array aligned with the dataset, like the image cache) and hands them to the ordinary training loop
(:func:`chestxai.train.fit.fit` with ``initial_model`` and ``images``), so early stopping, weight averaging, resume
and the metrics files are the same as for the classifier.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from chestxai.data.cache import CachedImages, cache_images
from chestxai.data.datasets.base import CXRDataset
from chestxai.errors import DataFormatError
from chestxai.models.checkpoint import load_checkpoint, save_checkpoint
from chestxai.models.classifier import Classifier
from chestxai.retrieval.embedders import SaliencyFn, explain_saliency, model_fingerprint, saliency_maps_uint8
from chestxai.train.fit import TrainConfig, fit


def saliency_dataset(
    classifier: Classifier, dataset: CXRDataset, saliency: SaliencyFn, batch_size: int = 32
) -> CachedImages:
    """Saliency maps of every readable image of ``dataset`` as a cached-images array (unreadable rows stay blank)."""
    cached = cache_images(dataset, classifier.preprocess)
    size = classifier.preprocess.image_size
    maps = np.zeros((len(dataset), size, size), np.uint8)
    rows = np.flatnonzero(cached.valid)
    if len(rows) == 0:
        raise DataFormatError("no readable image to compute saliency maps on")
    for start in range(0, len(rows), 256):
        chunk = rows[start : start + 256]
        maps[chunk] = saliency_maps_uint8(
            classifier, list(np.asarray(cached.images[chunk])), saliency, classifier.preprocess, batch_size
        )
    return CachedImages(maps, cached.valid.copy(), dict(cached.errors))


def igcbir_config(classifier: Classifier, **overrides: Any) -> TrainConfig:
    """The fine-tuning recipe: the classifier's findings, architecture and size; small learning rate, no augmentation
    (flips and crops would move the evidence away from the anatomy it belongs to)."""
    base = TrainConfig(
        findings=list(classifier.findings), arch=classifier.arch, image_size=classifier.preprocess.image_size,
        epochs=5, lr=1e-4, augment=(), early_stop_patience=3,
    )
    return replace(base, **overrides)


def train_igcbir(
    classifier: Classifier,
    dataset: CXRDataset,
    out_dir: str | Path,
    method: str = "gradcam",
    target: str | None = None,
    saliency: SaliencyFn | None = None,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    **config: Any,
) -> dict[str, Any]:
    """Write ``out_dir/model.pt``: the IG-CBIR embedding network, with the saliency method and classifier recorded.

    ``saliency`` overrides the :mod:`chestxai.explain` method ``method`` (tests pass a cheap function).
    Returns the training metrics (also in ``out_dir/metrics.json``).
    """
    recipe = igcbir_config(classifier, **config)  # checked before the saliency maps are computed
    data = dataset.select(list(classifier.findings))
    fn = saliency or explain_saliency(method, target)
    log(f"computing {method} saliency maps of {len(data)} images")
    maps = saliency_dataset(classifier, data, fn)
    metrics = fit(data, out_dir, recipe, resume=resume, progress=progress, log=log, initial_model=classifier,
                  images=maps)
    _record_provenance(Path(out_dir) / "model.pt", classifier, method, target)
    return metrics


def _record_provenance(path: Path, classifier: Classifier, method: str, target: str | None) -> None:
    """Store which classifier and saliency method the network expects, so search can refuse a mismatched pair."""
    model = load_checkpoint(path)
    meta = dict(model.checkpoint_meta)
    extra = {k: v for k, v in meta.items() if k not in ("arch", "findings", "preprocess", "metrics", "chestxai_version")}
    extra["igcbir"] = {"saliency": method, "target": target, "classifier_hash": model_fingerprint(classifier)}
    save_checkpoint(model, path, metrics=meta.get("metrics"), extra=extra)
