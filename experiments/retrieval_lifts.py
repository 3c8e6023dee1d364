"""What lifts effusion retrieval above chance on ../shared/data? Candidate embeddings beside the shipped ``cnn`` one.

The retrieval report found ``cnn`` and IG-CBIR at chance. Candidates measured here, with the same protocol, queries
and catalogues (held-out patients of the shipped model's split as queries, seeds 42, 1, 27, 57, 77; precision@X of
Top-4/Cat-10, Top-7/Cat-20, Top-11/Cat-30 next to chance X / Y):

- ``cnn``: penultimate features (global average of the last feature map), cosine: the shipped embedder.
- ``cnn_cam``: the same feature map pooled with the image's effusion Grad-CAM as weights (the region that drove the
  decision; plain average where the map is all zero), cosine.
- ``probability``: the classifier's effusion probability alone; similarity = -|p_q - p_c|.
- ``lda``: a linear discriminant of the penultimate features fitted on the catalogue pool's labels (dev patients
  only, never the queries): metric learning on the labels in its simplest form; similarity = -|z_q - z_c|.
- ``lda_shrunk``: the same with Ledoit-Wolf shrinkage of the covariance (less fitted to the pool).
- ``cnn_prob``: ``cnn``'s unit vector with the classifier's probabilities of all its findings appended, L2 distance
  (``|u_q - u_c|^2 + w^2 |p_q - p_c|^2``, w = 1: both parts in their own units, neither fitted to any labels):
  cases that look alike *and* that the classifier reads alike; ``_w0.5`` / ``_w2`` show how much w matters.

    python experiments/retrieval_lifts.py [--model nih-adult] [--out OUT.md]
    (default ``experiments/results/retrieval_lifts/retrieval_lifts.md``)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "experiments" / "results" / "retrieval_lifts"


def feature_maps(model, images: np.ndarray, batch: int = 64) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([model.feature_map(model.preprocess.normalise(images[i:i + batch])).numpy()
                               for i in range(0, len(images), batch)])


def cam_pooled(model, images: np.ndarray, maps: np.ndarray, finding: str) -> np.ndarray:
    from chestxai.explain import explain

    cams = np.stack([m.map for m in explain(model, model.preprocess.normalise(images), "gradcam", finding)])
    w = F.adaptive_avg_pool2d(torch.from_numpy(cams)[:, None], maps.shape[-2:])[:, 0].numpy()
    w = np.where(w.sum(axis=(1, 2), keepdims=True) > 0, w, 1.0)  # all-zero map: plain average
    pooled = (maps * w[:, None]).sum(axis=(2, 3)) / w.sum(axis=(1, 2))[:, None]
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def squared_distances(v: np.ndarray) -> np.ndarray:
    """All pairwise squared L2 distances of the rows of ``v``."""
    sq = (v ** 2).sum(axis=1)
    return np.maximum(sq[:, None] + sq[None, :] - 2 * v @ v.T, 0.0)


def pool_auc(score: np.ndarray, classes: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(classes, score)
    return max(auc, 1 - auc)  # an LDA axis has no preferred sign


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="nih-adult")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--finding", default="effusion")
    ap.add_argument("--out", default=str(RESULTS / "retrieval_lifts.md"))
    args = ap.parse_args()
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from chestxai import load_model
    from chestxai.data.datasets import load_dataset
    from chestxai.data.split import holdout_split
    from chestxai.evaluate.retrieval import SEEDS, SETTINGS, chance_level, prepare, score_seed, split_queries, summarise

    model = load_model(args.model).eval()
    data = load_dataset(args.data, findings=list(model.findings))
    _, test = holdout_split(data, 0.2, 0)
    queries = set(test.meta["patient_id"].astype(str))
    rd = prepare(data, args.finding, model.preprocess)
    pool, _ = split_queries(rd, 0, 0.2, queries)
    maps = feature_maps(model, rd.images)
    gap = maps.mean(axis=(2, 3))
    with torch.no_grad():
        probs = torch.sigmoid(model.head(torch.from_numpy(gap))).numpy()  # every finding the model reads
    prob = probs[:, model.finding_index(args.finding)]
    z = LinearDiscriminantAnalysis().fit(gap[pool], rd.classes[pool]).transform(gap)[:, 0]
    shrunk = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(gap[pool], rd.classes[pool])
    zs = shrunk.transform(gap)[:, 0]
    separation = {name: pool_auc(v[pool], rd.classes[pool]) for name, v in (("lda", z), ("lda_shrunk", zs),
                                                                              ("probability", prob))}
    unit = gap / np.linalg.norm(gap, axis=1, keepdims=True)
    cam = cam_pooled(model, rd.images, maps, args.finding)
    sims = {"cnn": unit @ unit.T, "cnn_cam": cam @ cam.T, "probability": -np.abs(prob[:, None] - prob[None, :]),
            "lda": -np.abs(z[:, None] - z[None, :]), "lda_shrunk": -np.abs(zs[:, None] - zs[None, :])}
    for w, name in ((1.0, "cnn_prob"), (0.5, "cnn_prob_w0.5"), (2.0, "cnn_prob_w2")):
        sims[name] = -(squared_distances(unit) + w ** 2 * squared_distances(probs))
    summary = summarise([score_seed(rd, sims, s, 0.2, queries) for s in SEEDS])
    lines = ["# Retrieval: candidate embeddings against chance", "",
             f"`python experiments/retrieval_lifts.py {' '.join(sys.argv[1:])}` — model `{args.model}`, finding "
             f"{args.finding}, {len(rd.images)} images, queries = the {len(rd.images) - len(pool)} images of held-out "
             f"patients, seeds {', '.join(map(str, SEEDS))}. Precision: mean [min, max] over seeds; (pos) = over "
             "effusion-positive queries only.", "",
             "| method | " + " | ".join(f"{s} (chance {chance_level(s):.2f})" for s in SETTINGS) + " | "
             + " | ".join(f"{s} (pos)" for s in SETTINGS) + " |",
             "|---|" + "---|" * (2 * len(SETTINGS))]
    for name in sims:
        cells = []
        for metric in ("precision", "precision_pos"):
            for s in SETTINGS:
                r = summary[(summary.method == name) & (summary.setting == s) & (summary.metric == metric)].iloc[0]
                cells.append(f"{r['mean']:.2f} [{r['min']:.2f}, {r['max']:.2f}]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "How well each 1-d score separates the catalogue pool's own classes (AUC on the pool, whose labels "
              "fitted the LDAs): " + ", ".join(f"{k} {v:.3f}" for k, v in separation.items()) + ".", ""]
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
