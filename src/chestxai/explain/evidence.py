"""From a saliency map to evidence a reader can check: a mask, a box, an overlay PNG and a side-by-side panel.

Maps are at the original image's size (``SaliencyMap.map``), so boxes come out in the original image's pixels and
can be compared directly with a radiologist's box. ``positive_only`` follows the source UI: a case the model calls
negative is shown without a heatmap, because a heatmap on a negative call invites reading evidence into noise.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chestxai.explain.base import SaliencyMap, check_fraction

Box = tuple[int, int, int, int]  # x, y, width, height in image pixels
CMAP = "jet"
METHOD_COLOURS = ("#ff3b30", "#34c759", "#007aff", "#ff9500", "#af52de", "#5ac8fa", "#ffcc00", "#ff2d55")  # >= one per method
REFERENCE_COLOUR = "#ffffff"


def _values(smap: SaliencyMap | np.ndarray) -> np.ndarray:
    return smap.map if isinstance(smap, SaliencyMap) else np.asarray(smap, np.float32)


def mask(smap: SaliencyMap | np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Boolean ``H x W``: the pixels whose saliency is at least ``threshold`` (in [0, 1])."""
    return _values(smap) >= check_fraction("threshold", threshold)


def to_box(smap: SaliencyMap | np.ndarray, threshold: float = 0.5) -> Box | None:
    """Bounding box ``(x, y, w, h)`` of the largest connected region >= ``threshold``; None if there is none.

    The largest component rather than all hot pixels: a second, smaller hotspot would otherwise stretch the box
    over healthy lung between them.
    """
    from skimage.measure import label, regionprops

    components = label(mask(smap, threshold), connectivity=2)
    regions = regionprops(components)
    if not regions:
        return None
    top, left, bottom, right = max(regions, key=lambda r: r.area).bbox
    return int(left), int(top), int(right - left), int(bottom - top)


def is_shown(smap: SaliencyMap, positive_only: float | None) -> bool:
    """Whether to draw the heatmap: always, or (``positive_only`` = a probability cut-off) only for positive calls."""
    return positive_only is None or smap.probability >= positive_only


def _draw_box(ax, box: Box | Sequence[float] | None, colour: str, style: str = "-", label: str | None = None) -> None:
    from matplotlib.patches import Rectangle

    if box is None:
        return
    x, y, w, h = (float(v) for v in box)
    ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor=colour, linewidth=1.8, linestyle=style, label=label))


def _draw_map(ax, image: np.ndarray, smap: SaliencyMap, threshold: float, positive_only: float | None, alpha: float):
    """Image, heatmap (unless hidden for a negative call), the map's box; returns the image artist for a legend."""
    ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
    ax.set_axis_off()
    title = f"{smap.method}  p({smap.target})={smap.probability:.2f}"
    if not is_shown(smap, positive_only):
        ax.set_title(title + "\npredicted negative: no heatmap", fontsize=8)
        return None
    heat = ax.imshow(smap.map, cmap=CMAP, vmin=0.0, vmax=1.0, alpha=alpha)
    _draw_box(ax, to_box(smap, threshold), "#ffffff")
    ax.set_title(title + ("\nno positive evidence: map all zero" if smap.note else ""), fontsize=8)
    return heat


def _png(fig, path: str | Path | None) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    data = buffer.getvalue()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    return data


def _figure(columns: int, image: np.ndarray, width_per_column: float = 3.2):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    aspect = image.shape[0] / max(1, image.shape[1])
    fig, axes = plt.subplots(1, columns, figsize=(width_per_column * columns, width_per_column * aspect + 0.6),
                             squeeze=False)
    return fig, list(axes[0])


def _colourbar(fig, artist, axes) -> None:
    if artist is not None:
        bar = fig.colorbar(artist, ax=axes, fraction=0.046 / max(1, len(axes)) ** 0.5, pad=0.02)
        bar.set_label("saliency (0 none - 1 strongest)", fontsize=8)


def overlay(
    image: np.ndarray,
    smap: SaliencyMap,
    path: str | Path | None = None,
    *,
    threshold: float = 0.5,
    alpha: float = 0.45,
    positive_only: float | None = None,
    reference_box: Sequence[float] | None = None,
    style: str | dict | list | None = None,
) -> bytes:
    """PNG bytes (also written to ``path``): the image, the map in colour with a legend bar and the map's box at
    ``threshold``; ``reference_box`` (e.g. a radiologist's) is drawn dashed. ``positive_only`` = a probability
    cut-off below which no heatmap is drawn; ``style``: a matplotlib style (name, rc dict or list) to draw in, e.g.
    the web page's dark one."""
    check_fraction("threshold", threshold)
    import matplotlib
    import matplotlib.style

    matplotlib.use("Agg", force=False)
    with matplotlib.style.context(style or []):
        fig, (ax,) = _figure(1, image, 4.5)
        artist = _draw_map(ax, image, smap, threshold, positive_only, alpha)
        _draw_box(ax, reference_box, REFERENCE_COLOUR, "--")
        _colourbar(fig, artist, [ax])
        return _png(fig, path)


def panel(
    image: np.ndarray,
    maps: Sequence[SaliencyMap],
    path: str | Path | None = None,
    *,
    threshold: float = 0.5,
    alpha: float = 0.45,
    positive_only: float | None = None,
    reference_box: Sequence[float] | None = None,
    title: str | None = None,
) -> bytes:
    """Side-by-side PNG for reports: original | boxes (each method's, and the reference dashed) | each method."""
    check_fraction("threshold", threshold)
    fig, axes = _figure(2 + len(maps), image)
    axes[0].imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
    axes[0].set_title("original", fontsize=8)
    axes[0].set_axis_off()
    axes[1].imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
    axes[1].set_axis_off()
    axes[1].set_title(f"boxes (saliency >= {threshold:g})", fontsize=8)
    for smap, colour in zip(maps, METHOD_COLOURS * (len(maps) // len(METHOD_COLOURS) + 1)):
        if is_shown(smap, positive_only):
            _draw_box(axes[1], to_box(smap, threshold), colour, label=smap.method)
    _draw_box(axes[1], reference_box, REFERENCE_COLOUR, "--", label="reference" if reference_box else None)
    if axes[1].patches:
        axes[1].legend(fontsize=6, loc="lower right", framealpha=0.6)
    artists = [_draw_map(ax, image, smap, threshold, positive_only, alpha) for ax, smap in zip(axes[2:], maps)]
    for ax in axes[2:]:
        _draw_box(ax, reference_box, REFERENCE_COLOUR, "--")
    _colourbar(fig, next((a for a in artists if a is not None), None), axes)
    if title:
        fig.suptitle(title, fontsize=9)
    return _png(fig, path)
