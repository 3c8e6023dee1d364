"""The explanation-quality table on ../shared/data's radiologist boxes, for effusion and for pneumonia.

Runs ``chestxai evaluate-explanations`` (the same library call) with the shipped default model (``nih-adult``, trained by
``release/train_reference.py``) on the images that carry a box of each finding, every registered method, and
writes ``experiments/results/explanation_report/explanation_report/<finding>/`` plus
``experiments/results/explanation_report/explanation_report.md``.
The images with boxes are mostly *not* held out from that model's training (they are part of ../shared/data); the
localisation figures measure where the model looks, not its accuracy.

    python experiments/explanation_report.py [--model nih-adult] [--methods ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chestxai.data.datasets import load_dataset
from chestxai.evaluate.explanation_report import evaluate_explanations
from chestxai.explain import EVALUATED_METHODS
from chestxai import load_model

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
ALL = ",".join(EVALUATED_METHODS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="nih-adult", help="shipped model name or checkpoint path")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--findings", default="effusion,pneumonia")
    ap.add_argument("--methods", default=ALL)
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--out", default=str(REPO / "experiments" / "results" / "explanation_report"
                                         / "explanation_report"))
    args = ap.parse_args()

    model = load_model(args.model)
    data = load_dataset(args.data)
    methods = args.methods.split(",")
    parts = [
        "# Explanation quality on ../shared/data's radiologist boxes",
        "",
        f"Command: `python experiments/explanation_report.py {' '.join(sys.argv[1:])}`",
        f"Model: `{args.model}` ({model.arch}, {model.preprocess.image_size} px, findings {', '.join(model.findings)}).",
        "",
    ]
    for finding in args.findings.split(","):
        out = Path(args.out) / finding
        evaluate_explanations(model, data, finding, methods, out, steps=args.steps, samples=args.samples)
        parts += [(out / "summary.md").read_text().replace("# Explanation quality", "## Explanation quality"), ""]
    text = "\n".join(parts)
    print(text)
    (Path(args.out).parent / "explanation_report.md").write_text(text)


if __name__ == "__main__":
    main()
