"""Similar-case retrieval: embedders (cnn, igcbir, ssim) and a persistent catalogue (SQLite + FAISS).

A radiologist in doubt looks for similar confirmed cases; :class:`Catalogue` holds the hospital's own cases on disk
and :meth:`Catalogue.search` returns them best first with their labels.

The names below are imported on first use, not with the package: every Ray embedding actor imports this package to
reach :mod:`chestxai.retrieval.ray_actor`, and an eager import of the catalogue (pandas, FAISS) and the embedders
(SciPy, torchvision) would add seconds to each actor's start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_HOME = {
    "AddReport": "catalogue", "Case": "catalogue", "Catalogue": "catalogue", "NewCase": "catalogue",
    "open_catalogue": "catalogue", "CNNEmbedder": "embedders", "Embedder": "embedders",
    "IGCBIREmbedder": "embedders", "SSIMScorer": "embedders", "build_embedder": "embedders",
    "explain_saliency": "embedders",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    """``chestxai.retrieval.Catalogue`` and the other public names, imported from their module when first asked."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"chestxai.retrieval.{_HOME[name]}"), name)
