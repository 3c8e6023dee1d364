"""Small ensembles and test-time flipping of trained NIH models, on the training runs' own validation patients and
on the held-out test patients (the split of ``release/train_reference.py``: seed 0, 20% test patients).

    python experiments/model_ensemble.py --models nih-adult,runs/posw/model.pt
    python experiments/model_ensemble.py --models nih-adult,runs/within-ssl/model.pt --within-source pneumonia

Each model alone, with test-time views averaged in (``--tta flip``: the horizontally flipped image; ``shift``: the image
moved by a few pixels four ways), and the mean probability of all of them, both
ways. Only models trained on the same development split with the same validation patients compare fairly here
(``train_reference.py`` runs without ``--extra-findings``, all with the same ``--within-source``). Validation AUC chooses; test AUC is reported beside it.
Pneumonia is judged within the sources where it varies, by the training loop's rule (``chestxai.data.confound``;
see ``../shared/data/README.md``).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from chestxai import load_model
from chestxai.data.confound import mask_confounded
from chestxai.data.datasets import load_dataset
from chestxai.data.datasets.base import CXRDataset
from chestxai.data.split import holdout_split
from chestxai.evaluate.classification import auc_ci
from chestxai.evaluate.report import predict_dataset
from chestxai.models.classifier import Classifier
from chestxai.train.fit import split_for_training

FINDINGS = ["effusion", "pneumonia", "normal"]


SHIFT = 6  # pixels of the model's input: small, within what the training augmentation's affine moves


def shifted(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """``x`` moved by (dx, dy) pixels, the uncovered border filled with the edge pixels (no wrap-around)."""
    pad = F.pad(x, (SHIFT, SHIFT, SHIFT, SHIFT), mode="replicate")
    h, w = x.shape[-2:]
    return pad[..., SHIFT - dy:SHIFT - dy + h, SHIFT - dx:SHIFT - dx + w]


VIEWS = {  # test-time augmentations: the views averaged with the plain image
    "flip": [lambda x: torch.flip(x, dims=[-1])],
    "shift": [lambda x, d=d: shifted(x, *d) for d in ((SHIFT, 0), (-SHIFT, 0), (0, SHIFT), (0, -SHIFT))],
}


def view_probabilities(model: Classifier, data: CXRDataset, tta: str) -> list[np.ndarray]:
    """Probabilities per image of the plain image first, then of each view of ``VIEWS[tta]`` (flip: the left-right
    mirrored image; shift: four copies moved by a few pixels, as the training augmentation's affine does); the plain
    pass is both the model's own row and a member of its test-time mean, so it runs once."""
    runs = [predict_dataset(model, data)[0]]
    original = model.predict_tensor
    for view in VIEWS[tta]:
        model.predict_tensor = lambda x, batch_size=32, view=view: original(view(x), batch_size)
        try:
            runs.append(predict_dataset(model, data)[0])
        finally:
            del model.predict_tensor
    return runs


def within_source(data: CXRDataset) -> np.ndarray:
    """Images whose pneumonia label stays known under the training loop's confound rule (``mask_confounded``: the
    sources where pneumonia varies), the confound-free pneumonia comparison, as in model_experiments.md."""
    return ~np.isnan(mask_confounded(data, ["pneumonia"])[0].labels[:, FINDINGS.index("pneumonia")])


def row(name: str, p: dict[str, np.ndarray], parts: dict[str, CXRDataset]) -> str:
    """One Markdown row: validation and test AUC per finding, test effusion with its bootstrap interval."""
    cells = [name]
    for split in ("val", "test"):
        y, mask = parts[split].labels, within_source(parts[split])
        cells.append(" / ".join(f"{roc_auc_score(y[:, i], p[split][:, i]):.3f}" for i in (0, 2))
                     + f" / {roc_auc_score(y[mask, 1], p[split][mask, 1]):.3f}")
    lo, hi = auc_ci(parts["test"].labels[:, 0], p["test"][:, 0])
    cells.append(f"[{lo:.3f}-{hi:.3f}]")
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--models", default="nih-adult,runs/posw/model.pt", help="comma-separated names or paths")
    ap.add_argument("--within-source", default="",
                    help="the models' --within-source findings: the training loop drew its validation patients "
                         "after blanking them, so the same must happen here to find the same patients")
    ap.add_argument("--tta", default="flip", choices=list(VIEWS), help="test-time views beside the plain one")
    args = ap.parse_args()
    data = load_dataset(args.data, findings=FINDINGS)
    dev, test = holdout_split(data, 0.2, 0)
    within = [f for f in args.within_source.split(",") if f]
    _, val_idx = split_for_training(mask_confounded(dev, within)[0] if within else dev, 0.15, 0)
    parts = {"val": dev.subset(val_idx), "test": test}
    runs: dict[str, dict[str, np.ndarray]] = {}
    for ref in args.models.split(","):
        model = load_model(ref)
        # Members are averaged on the networks' own sigmoid: runs trained before checkpoints stored the
        # --pos-weight shift carry none, so shifted and unshifted probabilities would be mixed.
        model.set_logit_shift(None)
        views = {s: view_probabilities(model, d, args.tta) for s, d in parts.items()}
        runs[ref] = {s: v[0] for s, v in views.items()}
        runs[f"{ref} + {args.tta}"] = {s: np.mean(v, axis=0) for s, v in views.items()}
    for suffix in ("", f" + {args.tta}"):
        members = [runs[ref + suffix] for ref in args.models.split(",")]
        runs["mean of all" + suffix] = {s: np.mean([m[s] for m in members], axis=0) for s in parts}
    print(f"val {len(parts['val'])} / test {len(parts['test'])} images; AUC effusion / normal / pneumonia within "
          "source\n\n| model | validation | test | test effusion 95% CI |\n|---|---|---|---|")
    for name, p in runs.items():
        print(row(name, p, parts))


if __name__ == "__main__":
    main()
