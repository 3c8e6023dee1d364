"""The "silhouette sign" heuristic from the source study: a MODEL-FREE baseline, not an explanation of the model.

Fluid and consolidation are brighter than aerated lung, so on the lung rows (default rows 20..110 of a 128-row
image, scaled to the image) the half with the larger intensity sum is taken as the abnormal side, and of that half
the brighter of its upper and lower quadrants. Its answer is that quadrant, as a box and a binary map; it does not
look at the model at all. It exists so that a saliency method can be compared with what plain brightness already
says (a method that cannot beat it explains little). It is constructed with the model only to share the one
interface: it works on the image resized by the model's preprocessing, and reports the model's probability.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from chestxai.errors import ConfigError
from chestxai.explain.base import Attribution, SaliencyMethod, register

REFERENCE_ROWS = 128


def silhouette_quadrant(image: np.ndarray, rows: tuple[int, int] = (20, 110)) -> dict[str, Any]:
    """The brighter half, then its brighter quadrant, of ``image`` (2-D) on ``rows`` (of 128, scaled)."""
    height, width = image.shape
    top = int(round(rows[0] * height / REFERENCE_ROWS))
    bottom = max(top + 2, int(round(rows[1] * height / REFERENCE_ROWS)))
    band = np.asarray(image, np.float64)[top:bottom]
    mid_col, mid_row = width // 2, (bottom - top) // 2
    left_sum, right_sum = float(band[:, :mid_col].sum()), float(band[:, mid_col:].sum())
    side = "left" if left_sum >= right_sum else "right"
    columns = slice(0, mid_col) if side == "left" else slice(mid_col, width)
    upper_sum, lower_sum = float(band[:mid_row, columns].sum()), float(band[mid_row:, columns].sum())
    level = "upper" if upper_sum >= lower_sum else "lower"
    y0 = top if level == "upper" else top + mid_row
    y1 = top + mid_row if level == "upper" else bottom
    x0 = columns.start
    return {
        "half": side,
        "quadrant": f"{level}-{side}",
        "box": [x0, y0, columns.stop - x0, y1 - y0],
        "sums": {"left": left_sum, "right": right_sum, "upper": upper_sum, "lower": lower_sum},
    }


@register
class Silhouette(SaliencyMethod):
    """Map = 1 on the brighter quadrant of the brighter half of the lung rows, 0 elsewhere (model-free)."""

    name = "silhouette"

    def __init__(self, model: nn.Module, rows: tuple[int, int] = (20, 110), batch_size: int = 16) -> None:
        super().__init__(model, batch_size)
        first, last = (int(r) for r in rows)
        if not 0 <= first < last <= REFERENCE_ROWS:
            raise ConfigError(f"silhouette rows must satisfy 0 <= first < last <= {REFERENCE_ROWS}, not {rows}")
        self.rows = (first, last)

    def params(self) -> dict[str, Any]:
        return {"rows": list(self.rows), "of_rows": REFERENCE_ROWS}

    def attribute(self, x: torch.Tensor, index: int) -> Attribution:
        pre = self.model.preprocess
        images = (x[:, 0].detach().float().cpu() * pre.std + pre.mean).numpy()  # back to intensities in [0, 1]
        maps, extras = np.zeros_like(images), []
        for image, smap in zip(images, maps):
            found = silhouette_quadrant(image, self.rows)
            bx, by, bw, bh = found["box"]
            smap[by : by + bh, bx : bx + bw] = 1.0
            extras.append(found)
        return Attribution(maps, None, extras)

    def scale_extras(self, extras: dict[str, Any], size: tuple[int, int], raw_shape: tuple[int, ...]) -> dict:
        """The box was found at model resolution; report it in the input image's pixels."""
        sy, sx = size[0] / raw_shape[0], size[1] / raw_shape[1]
        x, y, w, h = extras["box"]
        box = [int(round(x * sx)), int(round(y * sy)), int(round(w * sx)), int(round(h * sy))]
        return {**extras, "box": box}
