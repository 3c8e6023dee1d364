"""The shipped sample catalogue: held-out example cases of a shipped model, indexed on first use.

The package ships the images (``chestxai/assets/samples``), not the index: vectors depend on the exact model
weights, and indexing ~200 images takes seconds. The catalogue is built once per model fingerprint in the user's
cache folder (the package folder may be read-only), so search and the page's similar cases work at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chestxai.data.cache import default_cache_dir
from chestxai.data.datasets import load_dataset
from chestxai.errors import ChestXAIError, ConfigError
from chestxai.models.zoo import default_model_name, sample_folder, shipped_models
from chestxai.retrieval.api import index_dataset
from chestxai.retrieval.catalogue import Catalogue
from chestxai.retrieval.embedders import build_embedder


def shipped_name(model: str | Path | None) -> str:
    """The shipped model a ``--model`` value names (None = the default); a checkpoint path has no sample."""
    if model is None:
        return default_model_name()
    if str(model) not in shipped_models():
        raise ConfigError(f"{model}: the sample catalogue exists only for shipped models "
                          f"({', '.join(shipped_models()) or 'none shipped'}); pass --catalogue CAT")
    return str(model)


def default_catalogue(
    model: str | Path | None = None,
    root: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Path of a ready ``cnn`` catalogue of ``model``'s shipped sample (built now if missing or incomplete)."""
    from chestxai.models.zoo import load_model

    name = shipped_name(model)
    folder = sample_folder(name)
    embedder = build_embedder("cnn", load_model(name))
    path = Path(root) if root else default_cache_dir() / "catalogues" / f"{name}-{embedder.model_hash[:12]}"
    dataset = load_dataset(folder)
    if _complete(path, len(dataset)):
        return path
    if log:
        log(f"indexing the {len(dataset)} sample cases of {name} into {path} (first start only)")
    index_dataset(path, dataset, embedder)
    return path


def _complete(path: Path, n_cases: int) -> bool:
    """True when ``path`` already holds every sample case with ``cnn`` vectors (a crash mid-build re-runs)."""
    if not path.is_dir():
        return False
    try:
        with Catalogue(path, create=False) as cat:
            return len(cat) >= n_cases and "cnn" in cat.info()["embedders"]
    except ChestXAIError:
        return False
