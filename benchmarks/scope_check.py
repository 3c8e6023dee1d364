"""Does the scope check pass the model's own radiographs, flag other populations and refuse what is no radiograph?

For every shipped model, in its own embedding space (``Classifier.features``), a Gaussian is fitted to each chest
radiograph population a shipped model was trained on (``chestxai.models.scope.fit_population``), on **development
patients only** (the dev part of ``chestxai.data.split.holdout_split``, the cut every benchmark uses):

- the model's own population: fitted on its training patients, threshold (99th percentile) on its validation
  patients (``split_for_training`` with the run's own seed and fraction: images the network never trained on);
- another model's population: fitted on 80% of its dev patients, threshold on the other 20%.

The refusal distance is fixed by a rule on those held-out radiographs alone: ``REFUSE_MARGIN`` times the largest
nearest-population distance of any held-out radiograph. The layout check (``chestxai.models.scope.fit_layout``) is
learned from development radiographs of every population against their own inverted, rotated and quarter-cropped
copies, its threshold the 99.5th percentile of held-out development radiographs.

Honest caveats: the non-radiograph set's inverted, rotated and cropped radiographs are of the same kinds as the
layout check's training negatives (other patients: test patients, never development ones); its photographs,
drawings, documents, noise, gradients, stripes and CT-like slices are of kinds no part of the check was fitted on.
And the layout check itself was added after a first version (embedding distances alone, a one-class rule) had been
measured on this set and let most altered radiographs and many photographs through: the set shaped the design,
though no setting was chosen on it.

Measured on **test patients** and on a non-radiograph set that nothing was tuned on (made here, deterministically):
scikit-image's sample photographs and drawings, rendered text documents, noise, gradients and stripes, synthesised
CT-like slices, flat colours (the red square of issue 28), and NIH test radiographs inverted, rotated by 90 and 180
degrees, and cropped to their top-left quarter. Every image goes through the same decoder as an upload (PNG/JPEG
bytes -> ``read_image_bytes``).

    python benchmarks/scope_check.py [--apply]

``--apply`` writes the fitted statistics into the shipped checkpoints' metadata (weights untouched: the state dict
is written back as read) and the figures into their cards (``card.json`` ``scope``, ``MODEL_CARD.md``). Results:
``benchmarks/results/scope_check.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# Chest radiograph populations of the shipped models: their data folders and the age range their model cards state.
POPULATIONS = {
    "nih-adult": {"data": SHARED / "data", "ages": (18.0, 130.0), "label": "adult NIH chest X-rays"},
    "kermany-paediatric": {"data": SHARED / "kermany", "ages": (0.0, 5.0),
                           "label": "paediatric chest X-rays (Kermany, age 1-5)"},
}
REFUSE_MARGIN = 1.5
# The layout check's thumbnail side and regularisation, chosen on development patients alone (the share of held-out
# development radiographs' inverted, rotated and cropped copies it catches: 0.999 at 8 px, C 0.1; 0.995-0.998 at
# 8 or 16 px and C 0.01-1), before the non-radiograph set below was scored with it.
LAYOUT_SIZE, LAYOUT_C = 8, 0.1
POPULATION_C = 0.1  # regularisation of the population classifier (not tuned)
LAYOUT_NEGATIVE_KINDS = ("inverted", "rotated90", "rotated180", "quarter")  # kinds the layout check trained against
MAX_FIT, MAX_HELD_OUT, MAX_TEST = 800, 300, 400
TEST_FRACTION, SPLIT_SEED = 0.2, 0


# --- the non-radiograph set ------------------------------------------------------------------------------------


def encode(array: np.ndarray, fmt: str = "PNG") -> bytes:
    """An array (grey or RGB(A), uint8, bool or float in [0, 1]) as the bytes of an image file."""
    a = np.asarray(array)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    image = Image.fromarray(a)
    if fmt == "JPEG" and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def skimage_samples() -> dict[str, bytes]:
    """Every photograph and drawing scikit-image ships inside its wheel (no download)."""
    import skimage.data as data

    names = ["astronaut", "binary_blobs", "brick", "camera", "cat", "cell", "checkerboard", "chelsea", "clock",
             "coffee", "coins", "colorwheel", "grass", "gravel", "horse", "hubble_deep_field",
             "immunohistochemistry", "logo", "microaneurysms", "moon", "page", "retina", "rocket",
             "shepp_logan_phantom", "text"]
    return {f"skimage/{n}": encode(getattr(data, n)(), "JPEG" if n in ("astronaut", "coffee", "chelsea") else "PNG")
            for n in names}


LOREM = ("Patient presented with a persistent cough for three weeks. Findings: the lungs are clear. "
         "Impression: no acute cardiopulmonary process. Invoice number 4471, total due within thirty days. "
         "The quick brown fox jumps over the lazy dog. Minutes of the meeting held on Tuesday.").split()


def documents(rng: np.random.Generator) -> dict[str, bytes]:
    """Rendered text pages: black text on white (and one inverted), different sizes, fonts and layouts."""
    out = {}
    for i, (width, height, size) in enumerate([(850, 1100, 14), (850, 1100, 22), (600, 800, 12), (1200, 900, 18),
                                               (512, 512, 16), (700, 1000, 28), (1000, 1400, 11), (800, 600, 20)]):
        page = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(page)
        font = ImageFont.load_default(size=size)
        y = size * 2
        draw.text((size * 2, y), f"REPORT {i + 1}", fill=0, font=ImageFont.load_default(size=size * 2))
        y += size * 4
        while y < height - size * 3:
            words = " ".join(rng.choice(LOREM, size=int(rng.integers(5, 12))))
            draw.text((size * 2, y), words, fill=0, font=font)
            y += int(size * 1.6)
        array = np.asarray(page)
        out[f"document/{i}"] = encode(255 - array if i == 7 else array, "PNG" if i % 2 else "JPEG")
    return out


def noise_and_patterns(rng: np.random.Generator) -> dict[str, bytes]:
    """Noise (Gaussian, uniform, salt and pepper, smooth blobs), gradients, stripes and flat colours."""
    import cv2

    out: dict[str, bytes] = {}
    for i in range(4):
        out[f"noise/gaussian_{i}"] = encode(np.clip(rng.normal(0.5, 0.05 + 0.1 * i, (512, 512)), 0, 1))
    for i in range(3):
        out[f"noise/uniform_{i}"] = encode(rng.random((384 + 128 * i, 384 + 128 * i)))
        out[f"noise/salt_pepper_{i}"] = encode((rng.random((512, 512)) < 0.1 * (i + 1)).astype(np.float32))
        blobs = cv2.GaussianBlur(rng.random((512, 512)).astype(np.float32), (0, 0), 4 + 8 * i)
        out[f"noise/blobs_{i}"] = encode((blobs - blobs.min()) / (np.ptp(blobs) + 1e-9))
    yy, xx = np.mgrid[0:512, 0:512] / 511.0
    out["gradient/horizontal"] = encode(xx)
    out["gradient/vertical"] = encode(yy)
    out["gradient/diagonal"] = encode((xx + yy) / 2)
    out["gradient/radial"] = encode(np.clip(np.hypot(xx - 0.5, yy - 0.5) * 1.4, 0, 1))
    for i, period in enumerate((8, 32, 96)):
        out[f"stripes/{period}px"] = encode(0.5 + 0.5 * np.sin(2 * np.pi * xx * 511 / period))
    for name, rgb in {"red": (255, 0, 0), "white": (255, 255, 255), "black": (0, 0, 0)}.items():
        out[f"flat/{name}"] = encode(np.full((300, 300, 3), rgb, np.uint8), "JPEG")
    return out


def ct_slices(rng: np.random.Generator) -> dict[str, bytes]:
    """Synthesised axial CT-like slices: dark background, elliptical body, two dark lungs with vessels, a bright
    vertebra and ring of ribs, noise; six shapes and windows."""
    import cv2

    out = {}
    for i in range(6):
        size = 512
        img = np.zeros((size, size), np.float32)
        cx, cy = size // 2, size // 2 + int(rng.integers(-10, 10))
        ax, ay = int(size * rng.uniform(0.38, 0.46)), int(size * rng.uniform(0.28, 0.36))
        cv2.ellipse(img, (cx, cy), (ax, ay), 0, 0, 360, 0.55, -1)  # soft tissue
        for side in (-1, 1):
            cv2.ellipse(img, (cx + side * ax // 2, cy - 10), (int(ax * 0.38), int(ay * 0.7)), side * 10, 0, 360,
                        0.08, -1)  # lungs
            for _ in range(25):
                px, py = cx + side * ax // 2 + int(rng.normal(0, ax * 0.15)), cy + int(rng.normal(0, ay * 0.3))
                cv2.circle(img, (px, py), int(rng.integers(1, 4)), 0.5, -1)  # vessels
        cv2.circle(img, (cx, cy + int(ay * 0.7)), int(size * 0.05), 0.95, -1)  # vertebra
        for angle in np.linspace(200, 340, 7):
            x = int(cx + ax * 0.95 * np.cos(np.radians(angle)))
            y = int(cy - ay * 0.95 * np.sin(np.radians(angle)))
            cv2.circle(img, (x, y), 6, 0.9, -1)
        cv2.ellipse(img, (cx, cy - int(ay * 0.1)), (int(ax * 0.22), int(ay * 0.3)), 0, 0, 360, 0.6, -1)  # heart
        img = cv2.GaussianBlur(img, (0, 0), 1.0) + rng.normal(0, 0.02 + 0.01 * i, img.shape).astype(np.float32)
        out[f"ct_like/{i}"] = encode(np.clip(img, 0, 1))
    return out


def altered_radiographs(paths: list[str], n: int = 20) -> dict[str, bytes]:
    """Test-patient radiographs inverted, rotated by 90 and 180 degrees, and cropped to their top-left quarter."""
    from chestxai.data.io import read_image

    out = {}
    for path in paths[:n]:
        image = read_image(path)
        stem = Path(path).stem
        h, w = image.shape
        out[f"inverted/{stem}"] = encode(1.0 - image)
        out[f"rotated90/{stem}"] = encode(np.rot90(image).copy())
        out[f"rotated180/{stem}"] = encode(np.rot90(image, 2).copy())
        out[f"quarter/{stem}"] = encode(image[: h // 2, : w // 2].copy())
    return out


def non_radiographs(nih_test_paths: list[str], seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {**skimage_samples(), **documents(rng), **noise_and_patterns(rng), **ct_slices(rng),
            **altered_radiographs(nih_test_paths)}


# --- fitting ---------------------------------------------------------------------------------------------------


def load_population(name: str, model_findings: list[str] | None = None):
    """The population's dataset split into development and held-out test patients (the cut used everywhere)."""
    from chestxai.data.datasets import load_dataset
    from chestxai.data.split import holdout_split
    from chestxai.models.zoo import model_card

    findings = model_card(name)["findings"]
    data = load_dataset(str(POPULATIONS[name]["data"]), findings=findings)
    return holdout_split(data, TEST_FRACTION, SPLIT_SEED)


def capped(rows: np.ndarray, cap: int, seed: int = 0) -> np.ndarray:
    rows = np.asarray(rows)
    if len(rows) <= cap:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=cap, replace=False))


def fit_and_held_out_rows(dev, own: bool, config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``dev`` to fit the Gaussian on and rows to set its threshold on (never the same patients)."""
    from chestxai.data.split import patient_split
    from chestxai.train.fit import split_for_training

    if own:
        fit, held = split_for_training(dev, config.get("val_fraction", 0.15), config.get("seed", 0))
    else:
        parts = patient_split(dev.meta, (0.8, 0.2, 0.0), seed=SPLIT_SEED, labels=dev.labels)
        fit, held = parts["train"], parts["val"]
    return capped(fit, MAX_FIT), capped(held, MAX_HELD_OUT)


def embed_paths(model, paths: list[str]) -> np.ndarray:
    from chestxai.data.io import read_image
    from chestxai.models.scope import embed

    out = [embed(model, [read_image(p) for p in paths[i:i + 64]]) for i in range(0, len(paths), 64)]
    return np.concatenate(out)


def fit_layout_check(splits: dict[str, tuple]):
    """The layout check, the same for every model (pixels only): fitted on 80% of every population's development
    patients (at most MAX_FIT images each), threshold on the other 20%."""
    from chestxai.data.io import read_image
    from chestxai.data.split import patient_split
    from chestxai.models.scope import fit_layout

    fit, held = [], []
    for dev, _test in splits.values():
        parts = patient_split(dev.meta, (0.8, 0.2, 0.0), seed=SPLIT_SEED, labels=dev.labels)
        paths = list(dev.meta["path"].astype(str))
        fit += [read_image(paths[i]) for i in capped(parts["train"], MAX_FIT)]
        held += [read_image(paths[i]) for i in capped(parts["val"], MAX_HELD_OUT)]
    return fit_layout(fit, held, size=LAYOUT_SIZE, c=LAYOUT_C), {"fit": len(fit), "held_out": len(held)}


def fit_stats(name: str, model, splits: dict[str, tuple], layout) -> tuple[Any, dict[str, np.ndarray]]:
    """The model's ScopeStats (populations fitted on dev patients, refusal distance by the margin rule)."""
    from chestxai.models.scope import ScopeStats, fit_population, fit_population_classifier

    config = model.checkpoint_meta.get("config") or {}
    populations, fit_features, held_features, counts = {}, {}, {}, {}
    for pop, (dev, _test) in splits.items():
        fit_rows, held_rows = fit_and_held_out_rows(dev, pop == name, config)
        paths = list(dev.meta["path"].astype(str))
        fit_f = embed_paths(model, [paths[i] for i in fit_rows])
        held_f = embed_paths(model, [paths[i] for i in held_rows])
        info = POPULATIONS[pop]
        populations[pop] = fit_population(fit_f, held_f, info["label"], ages=info["ages"])
        held_features[pop] = held_f
        fit_features[pop] = fit_f
        counts[pop] = {"fit": len(fit_rows), "held_out": len(held_rows)}
    nearest = max(float(np.min([p.distance(f) for p in populations.values()], axis=0).max())
                  for f in held_features.values())
    fitted = {"command": "python benchmarks/scope_check.py --apply", "split": f"holdout_split({TEST_FRACTION}, "
              f"seed {SPLIT_SEED}) development patients only", "images": counts,
              "refuse_rule": f"{REFUSE_MARGIN} x the largest nearest-population distance of held-out radiographs "
                             f"({nearest:.3f})"}
    classifier = fit_population_classifier(fit_features, c=POPULATION_C)
    correct = {p: float(np.mean(classifier.probabilities(f).argmax(axis=1) == classifier.names.index(p)))
               for p, f in held_features.items()}
    fitted["population_rule"] = (f"logistic regression on the embeddings (C {POPULATION_C}), fitted on the same "
                                 "images as the Gaussians; held-out development images assigned to their own "
                                 "population: " + ", ".join(f"{p} {v:.3f}" for p, v in correct.items()))
    layout_check, layout_counts = layout
    fitted["layout_images"] = layout_counts
    fitted["layout_rule"] = (f"logistic regression on {LAYOUT_SIZE} x {LAYOUT_SIZE} standardised thumbnails (C "
                             f"{LAYOUT_C}): development radiographs against themselves inverted, rotated and cut to "
                             "quarters; threshold at the held-out 99.5th percentile")
    return ScopeStats(name, populations, REFUSE_MARGIN * nearest, layout_check, classifier, fitted), held_features


def outcome_shares(results) -> dict[str, float]:
    from chestxai.models.scope import SCOPES

    n = max(1, len(results))
    return {s: sum(r.scope == s for r in results) / n for s in SCOPES}


def measure(name: str, splits: dict[str, tuple], others: dict[str, bytes], layout) -> dict[str, Any]:
    """Fit ``name``'s statistics and judge its test sets."""
    from chestxai import load_model
    from chestxai.data.io import read_image, read_image_bytes
    from chestxai.models.scope import check_scope_batch

    model = load_model(name)
    start = time.perf_counter()
    stats, _ = fit_stats(name, model, splits, layout)
    model.checkpoint_meta["scope"] = stats.to_meta()
    fit_s = time.perf_counter() - start
    sets: dict[str, Any] = {}
    for pop, (_dev, test) in splits.items():
        paths = list(capped(np.asarray(test.meta["path"].astype(str)), MAX_TEST))
        results = []
        for i in range(0, len(paths), 64):
            results += check_scope_batch(model, [read_image(p) for p in paths[i:i + 64]])
        sets[pop] = {"n": len(results), **outcome_shares(results),
                     "suggested": {m: sum(r.suggested_model == m for r in results) for m in POPULATIONS}}
    names = list(others)
    images = [read_image_bytes(others[k], k) for k in names]
    start = time.perf_counter()
    results = check_scope_batch(model, images)
    per_image_ms = (time.perf_counter() - start) / len(images) * 1000
    kinds: dict[str, list] = {}
    for key, r in zip(names, results):
        kinds.setdefault(key.split("/")[0], []).append(r)
    unseen = [r for key, r in zip(names, results) if key.split("/")[0] not in LAYOUT_NEGATIVE_KINDS]
    sets["non_radiographs"] = {"n": len(results), **outcome_shares(results),
                               "unseen_kinds": {"n": len(unseen), **outcome_shares(unseen)},
                               "by_kind": {k: {"n": len(v), "refused": outcome_shares(v)["not_a_chest_radiograph"]}
                                           for k, v in kinds.items()},
                               "missed": {k: r.scope for k, r in zip(names, results) if r.answered}}
    return {"stats": stats, "sets": sets, "fit_seconds": fit_s, "check_ms_per_image": per_image_ms}


def figures(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """The card's ``scope`` entry: goals and what was measured."""
    sets, stats = result["sets"], result["stats"]
    others = [p for p in POPULATIONS if p != name]
    return {
        "own_test_in_scope": sets[name]["in_scope"], "own_test_n": sets[name]["n"],
        "other_populations_flagged": {p: 1.0 - sets[p]["in_scope"] - sets[p]["not_a_chest_radiograph"]
                                      for p in others},
        "other_populations_refused": {p: sets[p]["not_a_chest_radiograph"] for p in others},
        "other_populations_n": {p: sets[p]["n"] for p in others},
        "non_radiographs_refused": sets["non_radiographs"]["not_a_chest_radiograph"],
        "non_radiographs_n": sets["non_radiographs"]["n"],
        "unseen_kinds_refused": sets["non_radiographs"]["unseen_kinds"]["not_a_chest_radiograph"],
        "unseen_kinds_n": sets["non_radiographs"]["unseen_kinds"]["n"],
        "refuse_at": stats.refuse_at, "fitted": stats.fitted,
        "results": "benchmarks/results/scope_check.md",
    }


def table(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| model | image set | n | in scope | outside population | refused | goal |", "|---|---|---|---|---|---|---|"]
    for name, result in results.items():
        for key, s in result["sets"].items():
            if key == name:
                goal = "in scope >= 0.95"
            elif key == "non_radiographs":
                goal = "refused >= 0.99"
            else:
                goal = "flagged or refused >= 0.95"
            label = {name: f"{key} test patients (own)", "non_radiographs": "non-radiographs"}.get(
                key, f"{key} test patients (other population)")
            lines.append(f"| {name} | {label} | {s['n']} | {s['in_scope']:.3f} | {s['outside_population']:.3f} | "
                         f"{s['not_a_chest_radiograph']:.3f} | {goal} |")
    return lines


def apply(name: str, result: dict[str, Any]) -> None:
    """Scope statistics into the shipped checkpoint's metadata (weights written back as read), figures into its card."""
    from chestxai.models.card import read_card, write_card
    from chestxai.models.checkpoint import atomic_torch_save, read_checkpoint
    from chestxai.models.zoo import MODELS, shipped_models

    path = shipped_models()[name]
    payload = read_checkpoint(path)
    payload["meta"]["scope"] = result["stats"].to_meta()
    atomic_torch_save(payload, path)
    card = read_card(MODELS / name)
    card["scope"] = figures(name, result)
    card["size_mb"] = path.stat().st_size / 2**20
    write_card(MODELS / name, card)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apply", action="store_true", help="write the statistics into the shipped models and cards")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args()
    torch.set_num_threads(1)

    from chestxai.models.zoo import shipped_models

    names = [n for n in POPULATIONS if n in shipped_models()]
    splits = {n: load_population(n) for n in names}
    others = non_radiographs(list(splits["nih-adult"][1].meta["path"].astype(str)))
    layout = fit_layout_check(splits)
    results = {n: measure(n, splits, others, layout) for n in names}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {n: {**{k: v for k, v in r.items() if k != "stats"}, "card": figures(n, r)} for n, r in results.items()}
    (out / "scope_check.json").write_text(json.dumps(summary, indent=2, default=float))
    kinds = next(iter(results.values()))["sets"]["non_radiographs"]["by_kind"]
    lines = ["# Scope check: own test patients passed, other populations flagged, non-radiographs refused", "",
             f"Command: `python benchmarks/scope_check.py{' --apply' if args.apply else ''}`. Statistics fitted on "
             "development patients only (see the script's docstring); everything below is test patients (at most "
             f"{MAX_TEST} per population, seeded) or the non-radiograph set, on which no setting was chosen (it did "
             "shape the design: see the docstring's caveats). "
             "\"Outside population\" is answered with a warning; \"refused\" is not answered.", "",
             *table(results), "",
             "Non-radiograph set (" + ", ".join(f"{k} {v['n']}" for k, v in kinds.items()) + "); refused share by "
             "kind:", "", "| model | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for n, r in results.items():
        by = r["sets"]["non_radiographs"]["by_kind"]
        lines.append(f"| {n} | " + " | ".join(f"{by[k]['refused']:.2f}" for k in kinds) + " |")
    lines += ["", "Of these, the kinds no part of the check was fitted against (photographs, drawings, documents, noise, "
              "gradients, stripes, flat colours, CT-like slices): " + ", ".join(
                  f"`{n}` refused {r['sets']['non_radiographs']['unseen_kinds']['not_a_chest_radiograph']:.3f} of "
                  f"{r['sets']['non_radiographs']['unseen_kinds']['n']}" for n, r in results.items()) + ".", ""]
    for n, r in results.items():
        missed = r["sets"]["non_radiographs"]["missed"]
        lines.append(f"- `{n}`: refusal distance {r['stats'].refuse_at:.2f} ({r['stats'].fitted['refuse_rule']}); "
                     f"fitting took {r['fit_seconds']:.0f} s; the check costs {r['check_ms_per_image']:.0f} ms per "
                     "image in batches of the whole set (one embedding pass, 1 thread). Non-radiographs answered: "
                     + (", ".join(f"{k} ({s})" for k, s in missed.items()) or "none") + ".")
    lines.append("")
    (out / "scope_check.md").write_text("\n".join(lines))
    print("\n".join(lines))
    if args.apply:
        for n, r in results.items():
            apply(n, r)
            print(f"applied: scope statistics written into the shipped model {n} and its card")


if __name__ == "__main__":
    main()
