"""Does Grad-CAM on an earlier, finer layer localise the radiologists' boxes better? (``GradCAM(layer=...)``)

The last DenseNet-121 feature map is 4 x 4 at the shipped model's 128 px, so its Grad-CAM can only point at one of
16 cells; earlier blocks have 8 x 8 and 16 x 16 grids. For each layer: Relevance Mass Accuracy, pointing game and the
map's pixel AUC of the box on the ``../shared/data`` images with a box of the finding, next to chance (the boxes'
share of the image), and how many maps were all zero (not scored).

    python experiments/explanation_layers.py [--model nih-adult] [--out OUT.md]
    (default ``experiments/results/explanation_layers/explanation_layers.md``)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from chestxai import load_model
from chestxai.data.datasets import load_dataset
from chestxai.evaluate import explanations as xm
from chestxai.evaluate.explanation_report import build_eval_set
from chestxai.explain import explain

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "experiments" / "results" / "explanation_layers"
LAYERS = [("gradcam", None), ("gradcam", "0.denseblock3"), ("gradcam", "0.transition2"), ("gradcam", "0.denseblock2"),
          ("gradcampp", None), ("gradcampp", "0.denseblock3")]


def rows_for(model, data, finding: str) -> list[str]:
    es = build_eval_set(model, data, finding, data.boxes)
    keep = [i for i, m in enumerate(es.masks) if m is not None]
    masks, x = np.stack([es.masks[i] for i in keep]), es.x[keep]
    chance = float(xm.chance_level(masks).mean())
    out = []
    for method, layer in LAYERS:
        maps = np.stack([m.map for m in explain(model, x, method, finding, **({"layer": layer} if layer else {}))])
        ok = ~xm.degenerate(maps)
        grid = "x".join(str(s) for s in _grid(model, layer))
        scores = [np.nanmean(f(maps[ok], masks[ok])) if ok.any() else float("nan")
                  for f in (xm.relevance_mass_accuracy, xm.pointing_game, xm.pixel_auc)]
        out.append(f"| {finding} | {method} | {layer or model.target_layer_name + ' (last, default)'} | {grid} | "
                   f"{len(keep)} | {int((~ok).sum())} | {scores[0]:.3f} | {scores[1]:.3f} | {scores[2]:.3f} | "
                   f"{chance:.3f} |")
    return out


def _grid(model, layer: str | None) -> tuple[int, ...]:
    import torch

    module = model.trunk.get_submodule(layer or model.target_layer_name)
    shape: list[tuple[int, ...]] = []
    handle = module.register_forward_hook(lambda m, i, o: shape.append(tuple(o.shape[-2:])))
    with torch.no_grad():
        model(torch.zeros(1, 1, model.preprocess.image_size, model.preprocess.image_size))
    handle.remove()
    return shape[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="nih-adult")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(RESULTS / "explanation_layers.md"))
    args = ap.parse_args()
    model, data = load_model(args.model).eval(), load_dataset(args.data)
    lines = ["# Grad-CAM by layer on the radiologists' boxes", "",
             f"`python experiments/explanation_layers.py {' '.join(sys.argv[1:])}` — model `{args.model}` "
             f"({model.arch}, {model.preprocess.image_size} px). Means over the images whose map is not all zero; "
             "chance = the boxes' mean share of the image (what a uniform map scores for RMA and pointing game); "
             "pixel AUC chance = 0.5.", "",
             "| finding | method | layer | grid | images | all-zero maps | RMA | pointing game | pixel AUC | chance |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for finding in ("effusion", "pneumonia"):
        lines += rows_for(model, data, finding)
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
