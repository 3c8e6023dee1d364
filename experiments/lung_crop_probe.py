"""Would a lung-field crop keep the findings? Box retention of an intensity-only crop on ../shared/data.

    python experiments/lung_crop_probe.py [--margins 0.08,0.25] [--out OUT.md]
    (default ``experiments/results/lung_crop_probe/lung_crop_probe.md``)

Lung-field cropping is a lever the default-model issue lists. There are no lung masks in ``../shared`` and no
segmentation model can be downloaded, so the only crop available is a heuristic: Otsu's threshold on the blurred image,
the two largest dark regions that do not touch the image border (the lungs; the air outside the body touches it),
their joint bounding box widened by each of ``--margins``. Before training on such crops, this measures what they cut away:
for every radiologist box of a lung finding in ``boxes.csv``, the share of its area that stays inside the crop.
A crop that drops part of an effusion box (fluid is white, so it is *not* a dark region) would teach the network on
images whose finding was cut off.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from skimage import filters, measure

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "experiments" / "results" / "lung_crop_probe"
FINDINGS = ("effusion", "pneumonia", "atelectasis", "infiltrate", "mass", "nodule", "pneumothorax")
WORK = 128  # the crop is found at this size, then scaled back


def lung_crop(image: np.ndarray, margin: float) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` in ``image`` pixels: the two largest inner dark regions' box, widened; else the image."""
    h, w = image.shape
    small = filters.gaussian(np.asarray(Image.fromarray(image).resize((WORK, WORK), Image.BILINEAR), float), 2,
                             preserve_range=True)
    labels = measure.label(small < filters.threshold_otsu(small))
    border = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])))
    regions = [r for r in measure.regionprops(labels) if r.label not in border and r.area > 0.02 * WORK * WORK]
    if not regions:
        return 0, 0, w, h
    regions = sorted(regions, key=lambda r: -r.area)[:2]
    y0, x0 = min(r.bbox[0] for r in regions), min(r.bbox[1] for r in regions)
    y1, x1 = max(r.bbox[2] for r in regions), max(r.bbox[3] for r in regions)
    my, mx = margin * (y1 - y0), margin * (x1 - x0)
    box = np.array([max(0, x0 - mx), max(0, y0 - my), min(WORK, x1 + mx), min(WORK, y1 + 2 * my)])  # bases: 2x
    return tuple(int(v) for v in (box * np.array([w, h, w, h]) / WORK).round())


def retained(crop: tuple[int, int, int, int], box: pd.Series) -> float:
    """Share of the box's area inside the crop."""
    x0, y0, x1, y1 = crop
    ix = max(0.0, min(x1, box.x + box.w) - max(x0, box.x))
    iy = max(0.0, min(y1, box.y + box.h) - max(y0, box.y))
    return ix * iy / (box.w * box.h)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--margins", default="0.08,0.25", help="widenings to try, as shares of the crop's size")
    ap.add_argument("--out", default=str(RESULTS / "lung_crop_probe.md"))
    args = ap.parse_args()
    boxes = pd.read_csv(Path(args.data) / "boxes.csv")
    boxes = boxes[boxes["finding"].str.lower().isin(FINDINGS)]
    images = {name: np.asarray(Image.open(Path(args.data) / name).convert("L")) for name in boxes["image"].unique()}
    lines = ["# Lung-field crop: how much of the radiologists' boxes it keeps", "",
             f"`python experiments/lung_crop_probe.py {' '.join(sys.argv[1:])}`: {len(images)} images with a box of a "
             f"lung finding, {len(boxes)} boxes."]
    for margin in (float(m) for m in args.margins.split(",")):
        crops = {name: lung_crop(image, margin) for name, image in images.items()}
        area = [(c[2] - c[0]) * (c[3] - c[1]) / images[n].size for n, c in crops.items()]
        kept = pd.DataFrame([{"finding": b.finding.lower(), "kept": retained(crops[b.image], b)}
                             for _, b in boxes.iterrows()])
        lines += ["", f"## Margin {margin:g}: the crop covers {np.mean(area):.2f} of the image on average "
                  f"(min {np.min(area):.2f})", "",
                  "| finding | boxes | mean share kept | boxes kept whole | boxes kept >= 90% | boxes kept < 50% |",
                  "|---|---|---|---|---|---|"]
        for finding, g in [("all", kept), *kept.groupby("finding")]:
            k = g["kept"].to_numpy()
            lines.append(f"| {finding} | {len(k)} | {k.mean():.3f} | {(k > 0.999).mean():.2f} | "
                         f"{(k >= 0.9).mean():.2f} | {(k < 0.5).mean():.2f} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
