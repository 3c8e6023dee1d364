"""One saliency interface: ``Method(model).explain(images, target) -> list[SaliencyMap]``.

Like pytorch-grad-cam's ``BaseCAM``, the base class owns everything that is not the attribution itself, so each
method is a short subclass: reading and preprocessing the inputs exactly as the model's checkpoint says, batching,
the model's probability, resizing each map back to *its own* input's size, normalising to [0, 1] and releasing
hooks (``close()`` or ``with``). A subclass implements only :meth:`SaliencyMethod.attribute` on a preprocessed
batch ``[n, 1, S, S]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from chestxai.errors import ConfigError

ImageInput = np.ndarray | str | Path


@dataclass
class SaliencyMap:
    """A map ``float32 H x W`` in [0, 1] at the input image's own size, and what produced it."""

    map: np.ndarray
    method: str
    target: str
    probability: float
    params: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.map.shape  # type: ignore[return-value]

    @property
    def note(self) -> str | None:
        """What a reader must be told about a flat map, or None.

        A map with no variation (normalised to all zero) is a real answer, not a failure: the method found nothing
        in this image that raises the finding's score (Grad-CAM's last layer does this on most images the model
        calls negative). Drawn silently it looks like a blank heatmap without a box, so every output names it.
        """
        if not is_flat(self.map):
            return None
        return (f"{self.method} found nothing in this image that raises p({self.target}): the map is flat (all "
                "zero), so there is no heatmap and no box")


FLAT_SPAN = 1e-8  # a map whose values span no more than this is flat: no maximum to point at, no region to box


def is_flat(values: np.ndarray) -> bool:
    """Whether a map is constant (incl. all zero): the one rule the outputs' notes and the evaluation's counts share."""
    values = np.asarray(values)
    return not values.size or float(values.max()) - float(values.min()) <= FLAT_SPAN


class Attribution(NamedTuple):
    """What a subclass returns for one batch: raw non-normalised maps ``[n, h, w]`` (any resolution), the logits if
    its pass already computed them (saves a forward), and per-image extras."""

    maps: torch.Tensor | np.ndarray
    logits: torch.Tensor | None = None
    extras: list[dict[str, Any]] | None = None


def check_fraction(name: str, value: float) -> float:
    """Thresholds and similar knobs live in [0, 1]; anything else is a user error."""
    if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"{name} must be between 0 and 1, not {value!r}")
    return float(value)


class SaliencyMethod:
    """Base class of all saliency methods (see the module docstring); subclasses set ``name`` and ``attribute``."""

    name: ClassVar[str] = ""
    #: CAMs are min-max normalised like pytorch-grad-cam; signed attributions keep 0 = "no evidence" (divide by max).
    minmax: ClassVar[bool] = False

    def __init__(self, model: nn.Module, batch_size: int = 16) -> None:
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, not {batch_size}")
        self.model = model.eval()
        self.batch_size = int(batch_size)
        self._handles: list[RemovableHandle] = []

    # -- what a subclass provides -------------------------------------------------------------------------------
    def attribute(self, x: torch.Tensor, index: int) -> Attribution:
        """Raw maps for the preprocessed batch ``x`` ``[n, 1, S, S]`` and finding column ``index``."""
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """The method's settings, written next to every map so a figure can be reproduced."""
        return {}

    # -- hooks --------------------------------------------------------------------------------------------------
    def add_forward_hook(self, module: nn.Module, hook: Callable[..., Any]) -> None:
        """Register a forward hook that :meth:`close` removes."""
        self._handles.append(module.register_forward_hook(hook))

    def close(self) -> None:
        """Remove every hook this method put on the model (the model is usable as before)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self) -> "SaliencyMethod":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one call -------------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def explain(self, images: Sequence[ImageInput] | torch.Tensor, target: str | int) -> list[SaliencyMap]:
        """Explain ``target`` (a finding name or column) for each image.

        ``images``: decoded float images ``H x W`` in [0, 1] of any size (or file paths); each map comes back at its
        own image's size. A preprocessed tensor ``[N, 1, S, S]`` (evaluation code) gives ``S x S`` maps.
        """
        index = self.model.finding_index(target)
        x, sizes = self.prepare(images)
        finding = self.model.findings[index]
        out: list[SaliencyMap] = []
        for start in range(0, len(x), self.batch_size):
            batch = x[start : start + self.batch_size].to(self.device)
            result = self.attribute(batch, index)
            probs = self._probabilities(batch, result.logits, index)
            raw = _as_numpy(result.maps)
            extras = result.extras or [{} for _ in range(len(batch))]
            for i in range(len(batch)):
                size = sizes[start + i]
                smap = self.finish(raw[i], size)
                out.append(SaliencyMap(smap, self.name, finding, float(probs[i]), self.params(),
                                       self.scale_extras(extras[i], size, raw[i].shape)))
        return out

    # -- shared steps -------------------------------------------------------------------------------------------
    def prepare(self, images: Sequence[ImageInput] | torch.Tensor) -> tuple[torch.Tensor, list[tuple[int, int]]]:
        """Inputs -> model tensor ``[N, 1, S, S]`` and each input's ``(height, width)`` to resize maps back to."""
        if isinstance(images, torch.Tensor):
            if images.ndim != 4 or images.shape[1] != 1:
                raise ConfigError(f"a preprocessed batch must be [N, 1, S, S], not {list(images.shape)}")
            return images.float(), [tuple(images.shape[-2:])] * len(images)  # type: ignore[list-item]
        if isinstance(images, (str, Path)) or (isinstance(images, np.ndarray) and images.ndim == 2):
            images = [images]  # one image given bare
        decoded = [_decode(im) for im in images]
        if not decoded:
            size = self.model.preprocess.image_size
            return torch.zeros(0, 1, size, size), []
        return self.model.preprocess.batch(decoded), [im.shape for im in decoded]

    def finish(self, raw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Raw map -> positive part, resized to ``size`` (height, width), normalised to [0, 1] (float32)."""
        raw = np.nan_to_num(np.maximum(np.asarray(raw, np.float32), 0.0))
        resized = resize_map(raw, size)
        return normalise(resized, self.minmax)

    def scale_extras(self, extras: dict[str, Any], size: tuple[int, int], raw_shape: tuple[int, ...]) -> dict:
        """Hook for methods whose extras hold model-resolution coordinates (the default leaves them alone)."""
        return extras

    def _probabilities(self, x: torch.Tensor, logits: torch.Tensor | None, index: int) -> np.ndarray:
        if logits is None:
            with torch.no_grad():
                logits = self.model(x)
        link = getattr(self.model, "probabilities", torch.sigmoid)  # the classifier's reported probability
        return link(logits.detach().float())[:, index].cpu().numpy()


def _decode(image: ImageInput) -> np.ndarray:
    from chestxai.data.io import read_image

    if isinstance(image, (str, Path)):
        return read_image(image)
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim != 2:
        raise ConfigError(f"an image must be a 2-D grey array H x W, not shape {arr.shape}")
    return arr


def _as_numpy(maps: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(maps, torch.Tensor):
        return maps.detach().float().cpu().numpy()
    return np.asarray(maps, np.float32)


def resize_map(raw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear when enlarging (a CAM's 4 x 4 grid becomes smooth), area-averaging when shrinking."""
    height, width = int(size[0]), int(size[1])
    if raw.shape == (height, width):
        return raw
    shrinking = raw.shape[0] > height or raw.shape[1] > width
    return cv2.resize(raw, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def normalise(values: np.ndarray, minmax: bool = False) -> np.ndarray:
    """To [0, 1]: ``(v - min) / (max - min)`` or ``v / max``; a flat map (no evidence anywhere) becomes zeros.

    "Flat" is relative (span below 1e-5 of the largest value): interpolating a constant 1 x 1 CAM leaves float
    rounding noise that min-max would otherwise stretch into a pattern.
    """
    values = np.asarray(values, np.float32)
    if not values.size:
        return values
    high = float(values.max())
    low = float(values.min()) if minmax else 0.0
    span = high - low
    if not np.isfinite(span) or span <= 1e-5 * max(abs(high), abs(low)) or span <= 1e-12:
        return np.zeros(values.shape, np.float32)
    return np.clip((values - low) / span, 0.0, 1.0).astype(np.float32)


# -- registry -----------------------------------------------------------------------------------------------------
METHODS: dict[str, type[SaliencyMethod]] = {}
#: What ``evaluate-explanations``, ``report`` and the benchmarks compare by default, in table order: every method.
EVALUATED_METHODS = ("gradcam", "gradcampp", "gradient_x_input", "smoothgrad", "occlusion", "silhouette", "lrp")


def register(cls: type[SaliencyMethod]) -> type[SaliencyMethod]:
    """Class decorator: make ``cls`` available by ``cls.name`` to the CLI, the evaluation and the service."""
    METHODS[cls.name] = cls
    return cls


def get_method(name: str) -> type[SaliencyMethod]:
    """The method class called ``name``; unknown names are a user error listing the choices."""
    import chestxai.explain  # noqa: F401  (importing the package registers every method)

    try:
        return METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown explanation method {name!r}; choose from: {', '.join(METHODS)}") from None


def parse_methods(text: str | None) -> list[str]:
    """``"gradcam, occlusion"`` -> checked names (order kept, duplicates dropped); None -> ``EVALUATED_METHODS``,
    the one default of every command that evaluates explanations."""
    if text is None:
        return list(EVALUATED_METHODS)
    names = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names:
        raise ConfigError("no explanation method given; choose from: " + ", ".join(METHODS))
    for name in names:
        get_method(name)
    return names


def explain(
    model: nn.Module,
    images: Sequence[ImageInput] | torch.Tensor,
    method: str = "gradcam",
    target: str | int = 0,
    **params: Any,
) -> list[SaliencyMap]:
    """One-shot convenience: build ``method`` on ``model``, explain ``images`` for ``target``, release the hooks."""
    with get_method(method)(model, **params) as explainer:
        return explainer.explain(images, target)
