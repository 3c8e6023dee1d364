"""Similar-case retrieval: embedders (cnn, igcbir, ssim) and a persistent catalogue (SQLite + FAISS).

A radiologist in doubt looks for similar confirmed cases; :class:`Catalogue` holds the hospital's own cases on disk
and :meth:`Catalogue.search` returns them best first with their labels.
"""

from chestxai.retrieval.catalogue import AddReport, Case, Catalogue, NewCase, open_catalogue
from chestxai.retrieval.embedders import (
    CNNEmbedder,
    Embedder,
    IGCBIREmbedder,
    SSIMScorer,
    build_embedder,
    explain_saliency,
)

__all__ = [
    "AddReport", "CNNEmbedder", "Case", "Catalogue", "Embedder", "IGCBIREmbedder", "NewCase", "SSIMScorer",
    "build_embedder", "explain_saliency", "open_catalogue",
]
