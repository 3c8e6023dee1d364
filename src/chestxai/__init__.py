"""chestxai: an explainable chest X-ray assistant (findings, saliency maps, their evaluation, similar cases).

The package root is a facade for Python callers (``chestxai.load_model``, ``chestxai.__version__``); modules inside
the package import from where things live (:mod:`chestxai._version`, :mod:`chestxai.models.zoo`), never from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chestxai._version import __version__

if TYPE_CHECKING:
    from chestxai.models.zoo import load_model


def __getattr__(name: str) -> Any:
    # ``load_model`` is loaded on first use, so ``import chestxai`` stays cheap (no torch import).
    if name == "load_model":
        from chestxai.models.zoo import load_model

        return load_model
    raise AttributeError(f"module 'chestxai' has no attribute {name!r}")


__all__ = ["__version__", "load_model"]
