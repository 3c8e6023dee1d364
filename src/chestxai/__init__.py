"""chestxai: an explainable chest X-ray assistant (findings, saliency maps, their evaluation, similar cases).

The package root is a facade for Python callers (``chestxai.load_model``, ``chestxai.check_scope``,
``chestxai.predict``, ``chestxai.__version__``); modules inside
the package import from where things live (:mod:`chestxai._version`, :mod:`chestxai.models.zoo`), never from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from chestxai._version import __version__

if TYPE_CHECKING:
    import numpy as np

    from chestxai.models.classifier import Classifier
    from chestxai.models.scope import ScopeResult
    from chestxai.models.zoo import load_model


def __getattr__(name: str) -> Any:
    # ``load_model`` is loaded on first use, so ``import chestxai`` stays cheap (no torch import).
    if name == "load_model":
        from chestxai.models.zoo import load_model

        return load_model
    raise AttributeError(f"module 'chestxai' has no attribute {name!r}")


def _model(model: "Classifier | str | Path | None") -> "Classifier":
    from chestxai.models.classifier import Classifier
    from chestxai.models.zoo import load_model

    return model if isinstance(model, Classifier) else load_model(model)


def _decoded(image: "str | Path | np.ndarray") -> "tuple[np.ndarray, dict[str, str], str]":
    import numpy as np

    from chestxai.data.io import read_image_and_header

    if isinstance(image, (str, Path)):
        pixels, header = read_image_and_header(image)
        return pixels, header, str(image)
    return np.asarray(image, np.float32), {}, "image"


def check_scope(image: "str | Path | np.ndarray", model: "Classifier | str | Path | None" = None) -> "ScopeResult":
    """Is ``image`` (a file, or a decoded float array H x W in [0, 1]) a chest radiograph ``model`` knows?
    ``in_scope``, ``outside_population`` or ``not_a_chest_radiograph`` (see :mod:`chestxai.models.scope`)."""
    from chestxai.models.scope import check_scope as judge

    pixels, header, _ = _decoded(image)
    return judge(_model(model), pixels, header)


def predict(image: "str | Path | np.ndarray", model: "Classifier | str | Path | None" = None) -> dict:
    """Probabilities of one image after the scope check: ``{"probabilities": {...}, "scope": {...}}``.

    An image the check refuses raises :class:`chestxai.errors.OutOfScopeError`; one outside the model's population
    is answered, and its ``scope`` says so (with the shipped model that fits, where one does).
    """
    from chestxai.models.scope import predict_in_scope, refusal

    pixels, header, name = _decoded(image)
    ((result, probabilities),) = predict_in_scope(_model(model), [pixels], [header])
    if probabilities is None:
        raise refusal(name, result)
    return {"probabilities": probabilities, "scope": result.to_json()}


__all__ = ["__version__", "check_scope", "load_model", "predict"]
