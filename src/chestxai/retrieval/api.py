"""The retrieval tasks as single calls, shared by the CLI and the service: index, search, info, overlays.

Each takes paths and names (what a user types) and returns plain data, so ``cli.py`` only parses and prints.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


from chestxai.data.datasets.base import CXRDataset
from chestxai.data.io import read_image
from chestxai.errors import ConfigError
from chestxai.retrieval.catalogue import Case, Catalogue
from chestxai.retrieval.indexes import FLAT_SUGGEST_ABOVE
from chestxai.retrieval.recall import describe
from chestxai.retrieval.embedders import EMBEDDER_NAMES, Embedder, SSIMScorer, build_embedder


def load_embedder(name: str, model: str | Path | None, igcbir_model: str | Path | None = None) -> Embedder:
    """The vector embedder ``name`` over the checkpoints a user named (``None`` = the shipped default model)."""
    from chestxai.models.zoo import load_model
    from chestxai.models.checkpoint import load_checkpoint

    if name not in EMBEDDER_NAMES or name == "ssim":
        raise ConfigError(f"{name!r} is not a vector embedder; use cnn or igcbir")
    second = load_checkpoint(igcbir_model) if igcbir_model else None
    return build_embedder(name, load_model(model), second)


def index_dataset(
    catalogue: str | Path,
    dataset: CXRDataset,
    embedder: Embedder,
    index_type: str | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Add every image of ``dataset`` to the catalogue (created if needed): ``{"added", "skipped", ...}``."""
    with Catalogue(catalogue) as cat:
        report = cat.add_dataset(dataset, embedder, index_type=index_type, log=log)
        return {**report.to_json(), "cases": len(cat)}


def search_file(
    catalogue: str | Path,
    image: str | Path,
    method: str = "cnn",
    k: int = 10,
    model: str | Path | None = None,
    igcbir_model: str | Path | None = None,
) -> list[tuple[Case, float]]:
    """The ``k`` cases most similar to the image file ``image`` by ``method`` (cnn, igcbir or ssim), best first."""
    if k < 1:
        raise ConfigError("--k must be at least 1")
    query = read_image(image)
    with Catalogue(catalogue, create=False) as cat:
        if method == "ssim":
            return cat.search_ssim(query, k, SSIMScorer())
        return cat.search(query, load_embedder(method, model, igcbir_model), k)


def catalogue_info(catalogue: str | Path) -> dict[str, Any]:
    """``{"cases": n, "embedders": [names]}`` of an existing catalogue."""
    with Catalogue(catalogue, create=False) as cat:
        return cat.info()


def index_records(catalogue: str | Path) -> list[dict[str, Any]]:
    """Per embedder: its index type, parameters, vector count and the recall measured when it was last written."""
    with Catalogue(catalogue, create=False) as cat:
        return [{k: e[k] for k in ("name", "index_type", "params", "vectors", "recall")} for e in cat.embedders()]


def index_line(record: dict[str, Any]) -> str:
    """'12,000 vectors, ivfflat index (nlist=128, nprobe=8); recall@10 0.991 (...)' for the CLI."""
    params = ", ".join(f"{k}={v}" for k, v in record["params"].items())
    return (f"{record['vectors']:,} vectors, {record['index_type']} index{f' ({params})' if params else ''}; "
            f"{describe(record['recall'])}")


def index_advice(record: dict[str, Any]) -> str | None:
    """A note when an exact index has grown past the size where a flat scan stays within ~5 ms per query."""
    if record["index_type"] == "flat" and record["vectors"] > FLAT_SUGGEST_ABOVE:
        return (f"'{record['name']}' is an exact (flat) index of {record['vectors']:,} vectors; past "
                f"{FLAT_SUGGEST_ABOVE:,} a query scans for over ~5 ms on 2 cores: for a faster search, index into a "
                "new catalogue with --index-type ivfflat (recall@10 0.997 on 1M real-like vectors) or ivfsq8")
    return None


def write_overlays(
    image: str | Path,
    hits: list[tuple[Case, float]],
    out_dir: str | Path,
    finding: str,
    model: str | Path | None = None,
    method: str = "gradcam",
) -> list[Path]:
    """Saliency overlays of the query and of each hit (its image, or its thumbnail when the file is gone)."""
    from chestxai.models.zoo import load_model
    from chestxai.explain import explain, overlay

    classifier = load_model(model)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    named = [("query", read_image(image))] + [(f"case_{c.id}", c.pixels()) for c, _ in hits]
    written = []
    for name, pixels in named:
        smap = explain(classifier, [pixels], method, finding)[0]
        path = out / f"{name}.png"
        overlay(pixels, smap, path)
        written.append(path)
    return written

