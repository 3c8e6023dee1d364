"""Example explanation panels for the README: effusion cases of ../shared/data that carry a radiologist's box.

    python experiments/explain_panels.py [--model nih-adult --n 4 --out docs/explanations]

Picks the first ``--n`` images (sorted by name, no cherry-picking) with an effusion box, explains ``effusion`` with
every method and writes ``OUT/<image stem>.png`` (original | boxes | each method; the radiologist's box dashed
white) and ``OUT/README.md`` listing the command, the model and each case's probability.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import torch

import chestxai
from chestxai.data.io import read_image
from chestxai.explain import METHODS, get_method, panel

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def effusion_boxes(data: Path, n: int) -> pd.DataFrame:
    boxes = pd.read_csv(data / "boxes.csv")
    boxes = boxes[boxes["finding"].str.lower().str.contains("effusion")]
    return boxes.sort_values("image").drop_duplicates("image").head(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="nih-adult", help="shipped model name or checkpoint path")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--out", default=str(REPO / "docs" / "explanations"))
    args = ap.parse_args()
    torch.manual_seed(0)
    model = chestxai.load_model(args.model)
    cases = effusion_boxes(Path(args.data), args.n)
    images = [read_image(Path(args.data) / name) for name in cases["image"]]
    maps = {}
    for name in METHODS:
        with get_method(name)(model, batch_size=4) as method:
            maps[name] = method.explain(images, "effusion")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Example explanations (effusion)\n", f"Command: `python {' '.join(sys.argv)}`  ",
             f"Model: `{args.model}` ({model.arch}, {model.preprocess.image_size} px). "
             "Dashed white = radiologist's box; coloured = each method's largest region with saliency >= 0.5.\n"]
    for i, (image, (_, row)) in enumerate(zip(images, cases.iterrows())):
        stem = Path(row["image"]).stem
        box = (row["x"], row["y"], row["w"], row["h"])
        case_maps = [maps[name][i] for name in METHODS]
        panel(image, case_maps, out / f"{stem}.png", reference_box=box,
              title=f"{stem}: effusion, p = {case_maps[0].probability:.2f}")
        lines.append(f"- [{stem}]({stem}.png): p(effusion) = {case_maps[0].probability:.2f}")
    (out / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
