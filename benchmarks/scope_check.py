"""Does the scope check pass the model's own radiographs, flag other populations and refuse what is no radiograph?

For every shipped model, in its own embedding space (``Classifier.features``), a Gaussian is fitted to each chest
radiograph population a shipped model was trained on (``chestxai.models.scope.fit_population``), on **development
patients only** (the dev part of ``chestxai.data.split.holdout_split``, the cut every benchmark uses):

- the model's own population: fitted on its training patients, threshold (99th percentile) on its validation
  patients (``split_for_training`` with the run's own seed and fraction: images the network never trained on);
- another model's population: fitted on 80% of its dev patients, threshold on the other 20%.

The refusal distance is fixed by a rule on those held-out radiographs alone: ``REFUSE_MARGIN`` times the largest
nearest-population distance of any held-out radiograph. The layout check (``chestxai.models.scope.fit_layout``) is
learned from development radiographs of every population (and copies of them framed as other films are) against
their own inverted, rotated (by quarter turns and by any angle, with every fill), upside-down, halved, quartered,
stripped, cropped and zoomed copies (three networks with one hidden layer, averaged), with a Gaussian of their
layouts; the networks' threshold is the 99.5th percentile of all held-out development radiographs' scores, pooled
(one taken per population, the highest of them, was tried in round 4 and undone), the Gaussian's their 99.9th.

The rules of what any chest film is (``chestxai.models.scope.judge_physics``: colour, pixel-scale texture, smooth
ramp, empty edges) have fixed limits, set from development radiographs' range alone; the run reports what they
make of the development radiographs the layout check uses.

Measured on **test patients** and on six non-radiograph sets, made deterministically by
``benchmarks/scope_sets.py``; every image goes
through the same decoder as an upload (PNG/JPEG bytes -> ``read_image_bytes`` for the grey levels,
``read_header`` for what the file says of itself, its colour included).

1. **Seen during design** (``non_radiographs``, 142 images): scikit-image's sample photographs and drawings,
   rendered text documents, noise, gradients and stripes, synthesised CT-like slices, flat colours (the red square
   of issue 28), and NIH test radiographs 1-20 inverted, rotated by 90 and 180 degrees, and cropped to their
   top-left quarter. Its altered radiographs are of the kinds the layout check trained against (other patients);
   the layout check was added after a first version (embedding distances alone) was measured on this set, and the
   colour, texture, ramp and empty-edge rules after the second version let its colour photographs, noise, a
   gradient, the Shepp-Logan phantom and CT-like slices through. No threshold was set on it, but it shaped the
   design, so its figure is no unbiased estimate.
2. **Seen during design, round 2** (``round2_non_radiographs``, 156 images; round 2's fresh set), built after
   round 2's rules were fixed and scored once by round 2's run (refused 0.942, both models); what leaked from it
   (five upside-down children's films, a quarter crop, two CT slices filling the frame, a colour ultrasound with
   0.006 of its pixels coloured) led round 3 to the lower colour limit and the layout network and Gaussian, so it
   is seen now. It holds: 28
   pictures bundled with other packages (matplotlib's sample data: Grace Hopper's photograph, a gift-box
   photograph, a logo, two elevation maps, an MR slice, a smooth bivariate field; scikit-learn's two sample
   photographs; scikit-image's stereo motorcycle and its disparity map; grey copies of five colour photographs; 12
   CT, MR, NM, ultrasound and segmentation images from pydicom's bundled test files, rendered to PNG without their
   header), 8 text pages in matplotlib's bundled TrueType fonts (serif, mono, STIX, Computer Modern; a form, a
   table, two columns, headings, grey on cream, white on dark), 6 noise images of other kinds (pink and brown
   spectra, Poisson, Laplacian, speckle, multi-octave value noise), 8 patterns (gradients at 30 and 120 degrees, a
   two-colour gradient, rings, a plaid, a Siemens star, a grid, a checkerboard), 6 cross-sections drawn by another
   procedure (random radial-profile outlines and polygon organs: head, thorax, abdomen, pelvis, thigh) and 100
   altered test radiographs of patients the first set does not use (NIH test patients 21-35 and ten Kermany test
   patients, as JPEG: inverted, rotated by 270 degrees, upside down, bottom-right quarter). Seed ``FRESH_SEED``.
3. **Seen during design, round 3** (``round3_non_radiographs``, 175 images; round 3's fresh set #3), built in round 3
   after round 2's set had been looked at and before any of its images was scored, and scored once by round 3's run
   (refused 0.954, both models); what leaked from it (five radiographs turned by an oblique angle with black
   corners, two strong central zooms, a half) led round 4 to train the layout check against copies turned by any
   angle, zoomed, cropped and stripped, so it is seen now. Seed
   ``FRESH3_SEED``. It holds: 16 matplotlib charts (line, bar, scatter, heatmap with a colour bar, histogram, pie,
   box plot, contour map; each in grey and in colour), 10 UI-like screens (login form, settings dialog, table,
   dashboard, viewer with a dark sidebar, message box, grey and colour; four of matplotlib's toolbar icons,
   enlarged), 8 bundled pictures neither set used (pydicom's colour secondary-capture test patterns
   ``SC_rgb_jpeg``, ``SC_rgb_rle_16bit``, ``SC_jpeg_no_color_transform`` and the ultrasound ``ExplVR_BigEnd``;
   four of scikit-image's ``lfw_subset`` face crops, enlarged), 6 cross-sections by a third procedure (random
   ellipse phantoms projected and reconstructed by filtered back projection, two cut so the body fills the frame),
   10 patterns of new kinds (Worley noise, Voronoi cells, random lines, Gabor noise, a halftone screen, concentric
   squares, a spiral, a QR-like block code, a Julia set, random sinusoids) and 125 altered radiographs of test
   patients neither set uses (NIH test patients 36-50, Kermany test patients 11-20; PNG and JPEG alternating):
   rotated by a random 20-340 degrees with black corners, flipped both ways with a 5-15 degree tilt, a random half,
   the top-right or bottom-left quarter, a random central 35-50% zoom.
4. **Seen during design, round 4** (``round4_non_radiographs``, 200 images; ``fresh4_non_radiographs``), built in
   round 4 by a helper acting as an independent tester while the check was redesigned on development patients
   alone. (Its list of kinds, below, was read before the choice of the layout check's negatives, which include
   rotations on a grown canvas; no image of it was looked at or scored then.) Scored once, by a run whose layout
   threshold had been taken per population (refused 0.880, both models): that rule let most zooms and horizontal
   strips through, and was undone, so the set is seen now. What else leaked from it, 11 of its 27 synthetic
   projection radiographs of other body parts (hands, skulls, a knee, lumbar spines, a foot) and two ultrasound-like
   fans, changed nothing in the check. Seed ``FRESH4_SEED``. It holds 100 altered radiographs of test patients no
   earlier set uses (NIH test patients 51-80, Kermany test patients 21-40; 35 resized to other sizes and aspect
   ratios): turned by a random 20-340 degrees on a grown canvas with black, white or edge-repeated corners, turned by
   20-70 degrees and cut to the inscribed rectangle, turned by 90/270 degrees and inverted, quarters, off-centre crops of 20-45% of the area,
   strips a third wide or high, central zooms of 30-55% of each side, upside down with and without a 20-40 degree
   tilt, inverted, mirrored and turned by 90/270 degrees; and 100 images of other content: 10 documents of new
   layouts (letters, invoices, spreadsheets, code listings, handwriting-like strokes), 8 diagrams (flowcharts, floor
   plans, circuit-like drawings, EEG traces, a network graph), 34 crops, blurs and grey copies of pictures bundled
   with installed packages, 21 textures by new procedures (reaction-diffusion, fractal noise, marble, wood,
   tilings, cellular automata, a Mandelbrot zoom, ...) and 27 synthetic medical images that are no chest
   radiograph (projection radiographs of a hand, knee, skull, pelvis, lumbar spine and foot; mammogram-like,
   ultrasound-like, angiogram-like and dental-panoramic-like images). ``benchmarks/scope_sets.py`` lists each kind.
5. **Fresh set #5, held out** (``fresh_non_radiographs``, 201 images; ``fresh5_non_radiographs``), built in round 4
   by another helper after set #4 had been scored, told not to open any result, while the layout threshold was
   put back to round 3's pooled rule on development patients alone; scored once, by the ``--apply`` run that wrote
   ``benchmarks/results/scope_check.md``, after every rule, threshold and fitting setting was fixed. Seed
   ``FRESH5_SEED``. It holds 100 altered radiographs of test patients no earlier set uses (NIH test patients 81-115,
   Kermany test patients 41-65; 35 resized): turned by any angle on the same or a grown canvas (black, white, grey or
   edge fill) or cut inside, quarter turns, upside down with and without a tilt, negatives (also turned), quarters,
   halves, strips, off-centre crops, central zooms, films pasted small on a blank or textured canvas, films in a thick
   colour frame or photographed on a monitor, 2x2 and 3x3 mosaics; and 101 images of other content: 15 radiographs
   of other body parts built another way (a 3D voxel volume of soft tissue and bones integrated through its depth:
   hand, forearm, knee, ankle, shoulder, skull, pelvis, lumbar spine, elbow, foot), 23 other modalities (brain MR,
   abdominal CT, bone and thyroid/renal scans, ultrasound sectors, endoscopy, skin lesions, fundus), 27 everyday
   pictures drawn with PIL (web pages, slides, calendars, receipts, maps, charts, cartoons, emoji grids), 20 textures
   by new procedures and 16 new crops of bundled photographs (flipped, turned, blurred, posterised or as edges).
   Nothing in the check changed after it was scored: its radiographs of other body parts (with set #4's) only served
   to judge, and drop, drawn ones as extra negatives (see the comment at ``LAYOUT_SIZE``).
6. **Fresh set #6, held out** (``fresh6_non_radiographs``, 205 images), built in round 4 by a third helper after set
   #5 had been scored, told to open no result, no model card and no recent commit message; scored once, by the
   ``--apply`` run that wrote ``benchmarks/results/scope_check.md``, the check unchanged since set #5 was scored.
   Seed ``FRESH6_SEED``. It holds 105 altered radiographs of test patients no earlier set uses (NIH test patients
   116-150, Kermany test patients 66-100; 41 resized), five of each of 21 kinds: turned on the same or a grown canvas,
   turned and cut inside, turned and keystoned, quarter turns, upside down, flipped, upside down and tilted,
   negatives (also turned and upside down), quarters, halves, strips, corner crops, central zooms, transposed, a
   turned band, the film small inside other content (a case-report page, a slide, a photograph, a painted wall),
   mosaics, turned then cropped; and 100 images of other content: 24 radiographs of other body parts built a third
   way (tubes and ellipsoids with a dense cortex and trabecular marrow, grain, collimation, markers; hands, forearm,
   feet, knees, pelvis, hip, shoulders, elbows, skulls, cervical and lumbar spines, dental; a few inverted), 19 other
   modalities (CT, MR, PET, ultrasound, Doppler, mammograms, angiograms, OCT, a polar map, histology), 13
   medical-adjacent pictures (ECGs, lab reports, a bedside monitor, a spirometry loop, viewer screenshots of CT and
   MR, labelled anatomical line drawings), 21 everyday pictures, 12 textures and 11 treated crops of bundled photos.
   Once any rule, threshold or fitting setting of the check changes because of what a set showed, it is no longer
   fresh: label it as seen and build a new one before the next honest figure.

    python benchmarks/scope_check.py [--apply]

``--apply`` writes the fitted statistics into the shipped checkpoints' metadata (weights untouched: the state dict
is written back as read) and the figures into their cards (``card.json`` ``scope``, ``MODEL_CARD.md``). Results:
``benchmarks/results/scope_check.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scope_sets import (encode, fresh3_non_radiographs, fresh4_non_radiographs, fresh5_non_radiographs,
                        fresh6_non_radiographs, non_radiographs, round2_non_radiographs)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# Chest radiograph populations of the shipped models: their data folders and the age range their model cards state.
POPULATIONS = {
    "nih-adult": {"data": SHARED / "data", "ages": (18.0, 130.0), "label": "adult NIH chest X-rays"},
    "kermany-paediatric": {"data": SHARED / "kermany", "ages": (0.0, 5.0),
                           "label": "paediatric chest X-rays (Kermany, age 1-5)"},
}
REFUSE_MARGIN = 1.5
# The layout check's thumbnail side, hidden units and epochs, chosen (round 3) on development patients alone: the
# share of 19 kinds of altered copies of held-out development radiographs (inverted, rotated by 90/180/270 and by 30
# and 150 degrees, upside down, quarters, halves, central 50% and 35%) it refuses, with 0.5% of the upright ones:
# a linear score on an 8 px thumbnail (rounds 1-2) 0.74 (upside down 0.72), with more negatives 0.58-0.62 at 8-24 px;
# one hidden layer of 64 or 128 units at 16, 24 and 32 px 0.91-0.94 (upside down 0.94-0.97); at 32 px, 64 units, 40
# epochs 0.94, and 0.95 with the Gaussian of layouts (refusing 1.3% of upright ones). Negatives rotated by +-35 and
# +-145 degrees did not help (0.91).
# Round 4, again on development patients alone (fit on 70% of them, thresholds on 15%, measured on the other 15%:
# 316 radiographs, 116 NIH, 200 Kermany, each altered in 30 ways with fresh draws): round 3's settings refused 0.95
# of the altered copies, but only 0.79 of films turned by an oblique angle with black corners and 0.41 of those
# turned by 20-40 degrees. LAYOUT_RANDOM_NEGATIVES random copies of each film (chestxai.models.scope
# .random_layout_negatives: any angle at least 20 degrees from upright, zooms, crops, strips, tilted flips) raised
# that to 0.98-0.99 (turned 0.99, by 20-40 degrees 0.96-0.98); LAYOUT_POSITIVES copies framed as other films are
# (layout_positives) and the Gaussian's threshold at the 99.9th percentile kept NIH films refused at 0.034-0.043
# (round 3's settings: 0.052); three members averaged 0.987-0.994 of all altered copies. Varying the random draws
# moves the NIH figure by +-0.02 (116 films). 128 units, 80 epochs or 24 px did no better. The network's threshold
# taken per population (the highest of their 99.5th percentiles) was scored once on fresh set #4 and undone: on the
# benchmark's 155 held-out NIH films it is their single most unusual film's score (14.7 against 5.7 pooled), and it
# let through 0.21 of the altered copies it was fitted against (0.03 pooled). On those held-out films (thresholds
# set on them, 4-6 fresh random copies of each) the Gaussian adds no altered copy the network misses and refuses
# 2-3% of NIH films (none of Kermany's) at the 99.5th percentile, hence its 99.9th.
# Tried after fresh set #5 was scored and not kept: 1,500 radiographs of other body parts drawn by code of their own
# (hands, feet, knees, elbows, ankles, forearms, pelvises, lumbar spines, skulls: soft-tissue envelopes, bones with a
# bright cortex, grain, collimation, side markers) as extra negatives of the layout network. On 300 more drawn with
# another seed the layout check refused 0.920 without them and 0.987 with them, but on the seen sets' radiographs of
# other body parts, built by other code, nothing carried over: 0.81 -> 0.85 of set #4's 27, 0.80 -> 0.73 of set #5's
# 15 (layout check alone; same altered-copy and upright figures). The network learns the drawing, not the body part;
# real radiographs of other body parts would be needed, and this project has none.
LAYOUT_SIZE, LAYOUT_HIDDEN, LAYOUT_EPOCHS = 32, 64, 40
LAYOUT_RANDOM_NEGATIVES, LAYOUT_POSITIVES, LAYOUT_MEMBERS, LAYOUT_TYPICAL_QUANTILE = 12, 3, 3, 0.999
POPULATION_C = 0.1  # regularisation of the population classifier (not tuned)
MAX_FIT, MAX_HELD_OUT, MAX_TEST = 800, 300, 400
NON_RADIOGRAPH_SETS = {"non_radiographs": "non-radiographs, seen during design",
                       "round2_non_radiographs": "non-radiographs, seen during design (round 2)",
                       "round3_non_radiographs": "non-radiographs, seen during design (round 3)",
                       "round4_non_radiographs": "non-radiographs, seen during design (round 4)",
                       "fresh_non_radiographs": "non-radiographs, fresh set #5 (held out, scored once)",
                       "fresh6_non_radiographs": "non-radiographs, fresh set #6 (held out, scored once)"}
TEST_FRACTION, SPLIT_SEED = 0.2, 0


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
    patients (at most MAX_FIT images each), threshold on the other 20%; and what the rules of
    ``chestxai.models.scope.judge_physics`` (fixed limits, no fitting) make of those same development radiographs."""
    from chestxai.data.io import read_image
    from chestxai.data.split import patient_split
    from chestxai.models import scope

    fit, held, groups = [], [], []
    for name, (dev, _test) in splits.items():
        parts = patient_split(dev.meta, (0.8, 0.2, 0.0), seed=SPLIT_SEED, labels=dev.labels)
        paths = list(dev.meta["path"].astype(str))
        fit += [read_image(paths[i]) for i in capped(parts["train"], MAX_FIT)]
        held_rows = capped(parts["val"], MAX_HELD_OUT)
        held += [read_image(paths[i]) for i in held_rows]
        groups += [name] * len(held_rows)
    shares = np.array([scope.texture_shares(im) for im in fit + held])
    physics = {"n": len(fit) + len(held), "pixel_scale_max": float(shares[:, 0].max()),
               "anatomy_min": float(shares[:, 1].min()),
               "empty_edge_max": max(scope.empty_border(im) for im in fit + held),
               "colour_share_max": max(rgb_jpeg_colour_share(im) for im in fit + held),
               "refused": sum(scope.judge_physics(im) is not None for im in fit + held),
               "limits": [scope.MAX_PIXEL_SCALE_SHARE, scope.MIN_ANATOMY_SHARE, scope.MAX_EMPTY_EDGE,
                          scope.MAX_COLOUR_SHARE]}
    check = scope.fit_layout(fit, held, size=LAYOUT_SIZE, hidden=LAYOUT_HIDDEN, epochs=LAYOUT_EPOCHS,
                             random_negatives=LAYOUT_RANDOM_NEGATIVES, positives=LAYOUT_POSITIVES,
                             members=LAYOUT_MEMBERS, typical_quantile=LAYOUT_TYPICAL_QUANTILE)
    rng = np.random.default_rng(SPLIT_SEED + 1)  # draws no network was fitted on
    physics["layout_held_out"] = {
        "upright_refused": float(np.mean([check.judge(im) is not None for im in held])),
        "upright_refused_by_population": {name: float(np.mean([check.judge(im) is not None
                                                               for im, g in zip(held, groups) if g == name]))
                                          for name in splits},
        "altered_refused": float(np.mean([check.judge(neg) is not None for im in held
                                          for neg in scope.layout_negatives(im)])),
        "random_altered_refused": float(np.mean([check.judge(neg) is not None for im in held
                                                 for neg in scope.random_layout_negatives(im, rng, 4)]))}
    return check, {"fit": len(fit), "held_out": len(held)}, physics


def rgb_jpeg_colour_share(image: np.ndarray) -> float:
    """The colour share (``read_header``) of a grey radiograph saved as an RGB JPEG (quality 75): what a grey film
    uploaded in colour shows the colour rule."""
    from chestxai.data.io import COLOUR_SHARE, read_header

    rgb = np.repeat(np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    return float(read_header(encode(rgb, "JPEG"), "film.jpg")[COLOUR_SHARE])


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
    layout_check, layout_counts, _physics = layout
    fitted["layout_images"] = layout_counts
    fitted["layout_rule"] = (f"{LAYOUT_MEMBERS} networks with one hidden layer of {LAYOUT_HIDDEN} units, averaged, on "
                             f"{LAYOUT_SIZE} x {LAYOUT_SIZE} standardised thumbnails ({LAYOUT_EPOCHS} epochs): "
                             f"development radiographs (and {LAYOUT_POSITIVES} reframed copies of each) against "
                             "themselves inverted, rotated, upside down and cut to halves, quarters and their central "
                             f"part, and {LAYOUT_RANDOM_NEGATIVES} random copies of each turned by any angle, zoomed, "
                             "cropped, stripped or flipped and tilted, threshold at the held-out 99.5th percentile; "
                             "and a Gaussian of their thumbnails, threshold at the held-out "
                             f"{100 * LAYOUT_TYPICAL_QUANTILE:g}th percentile")
    return ScopeStats(name, populations, REFUSE_MARGIN * nearest, layout_check, classifier, fitted), held_features


def outcome_shares(results) -> dict[str, float]:
    from chestxai.models.scope import SCOPES

    n = max(1, len(results))
    return {s: sum(r.scope == s for r in results) / n for s in SCOPES}


def measure(name: str, splits: dict[str, tuple], others: dict[str, dict[str, bytes]], layout) -> dict[str, Any]:
    """Fit ``name``'s statistics and judge its test sets (``others``: the non-radiograph sets by name, each image
    decoded and its header facts read as an upload's are)."""
    from chestxai import load_model
    from chestxai.data.io import read_header, read_image, read_image_bytes
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
    per_image_ms = {}
    for set_name, pictures in others.items():
        names = list(pictures)
        images = [read_image_bytes(pictures[k], k) for k in names]
        headers = [read_header(pictures[k], k) for k in names]
        start = time.perf_counter()
        results = check_scope_batch(model, images, headers)
        per_image_ms[set_name] = (time.perf_counter() - start) / len(images) * 1000
        kinds: dict[str, list] = {}
        for key, r in zip(names, results):
            kinds.setdefault(key.split("/")[0], []).append(r)
        sets[set_name] = {"n": len(results), **outcome_shares(results),
                          "by_kind": {k: {"n": len(v), "refused": outcome_shares(v)["not_a_chest_radiograph"]}
                                      for k, v in kinds.items()},
                          "missed": {k: r.scope for k, r in zip(names, results) if r.answered},
                          "reasons": {k: r.reason for k, r in zip(names, results)}}
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
        **{f"{key}_{figure}": value for key in NON_RADIOGRAPH_SETS
           for figure, value in (("refused", sets[key]["not_a_chest_radiograph"]), ("n", sets[key]["n"]))},
        "refuse_at": stats.refuse_at, "fitted": stats.fitted,
        "results": "benchmarks/results/scope_check.md",
    }


def table(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| model | image set | n | in scope | outside population | refused | goal |", "|---|---|---|---|---|---|---|"]
    for name, result in results.items():
        for key, s in result["sets"].items():
            if key == name:
                goal = "in scope >= 0.95"
            elif key in NON_RADIOGRAPH_SETS:
                goal = "refused >= 0.99"
            else:
                goal = "flagged or refused >= 0.95"
            label = {name: f"{key} test patients (own)", **NON_RADIOGRAPH_SETS}.get(
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
    test_paths = {n: list(splits[n][1].meta["path"].astype(str)) for n in names}
    children = test_paths.get("kermany-paediatric", [])
    others = {"non_radiographs": non_radiographs(test_paths["nih-adult"]),
              "round2_non_radiographs": round2_non_radiographs(test_paths["nih-adult"], children),
              "round3_non_radiographs": fresh3_non_radiographs(test_paths["nih-adult"], children),
              "round4_non_radiographs": fresh4_non_radiographs(test_paths["nih-adult"], children),
              "fresh_non_radiographs": fresh5_non_radiographs(test_paths["nih-adult"], children),
              "fresh6_non_radiographs": fresh6_non_radiographs(test_paths["nih-adult"], children)}
    layout = fit_layout_check(splits)
    results = {n: measure(n, splits, others, layout) for n in names}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {n: {**{k: v for k, v in r.items() if k != "stats"}, "card": figures(n, r)} for n, r in results.items()}
    summary["development_radiographs_physics"] = layout[2]
    (out / "scope_check.json").write_text(json.dumps(summary, indent=2, default=float))
    physics = layout[2]
    lines = ["# Scope check: own test patients passed, other populations flagged, non-radiographs refused", "",
             f"Command: `python benchmarks/scope_check.py{' --apply' if args.apply else ''}`. Statistics fitted on "
             "development patients only (see the script's docstring); everything below is test patients (at most "
             f"{MAX_TEST} per population, seeded) or the six non-radiograph sets. The first four (\"seen during "
             "design\") were looked at while the check was designed: what leaked from the first led to the colour, "
             "texture, ramp and empty-edge rules (round 2), what leaked from the second (round 2's fresh set) to the "
             "lower colour limit and the layout network and Gaussian (round 3), what leaked from the third (round "
             "3's fresh set) to training the layout check against films turned by any angle, zoomed and cropped "
             "(round 4), what the fourth (round 4's fresh set, scored once by a run with a layout threshold taken "
             "per population) showed to undoing that rule, though no threshold was set on any. The fifth and sixth "
             "(\"fresh set #5\", \"fresh set #6\") were each built by another helper "
             "acting as an independent tester from other sources, generators, seeds and patients, told not to open "
             "any result, and scored once after every rule and threshold was fixed: set #5 by the run that first "
             "wrote round 4's figures, set #6 by the run that wrote this file (the check unchanged between them, "
             "its statistics fitted again the same way). \"Outside "
             "population\" is answered with a warning; \"refused\" is not answered.", "", *table(results), "",
             f"The rules of what any chest film is (`judge_physics`) on the {physics['n']} development radiographs the "
             f"layout check was fitted and thresholded on: pixel-scale share at most {physics['pixel_scale_max']:.3f} "
             f"(refused above {physics['limits'][0]}), anatomy-band share at least {physics['anatomy_min']:.3f} "
             f"(refused below {physics['limits'][1]}), emptiest edge at most {physics['empty_edge_max']:.3f} "
             f"(refused from {physics['limits'][2]}), colour share as RGB JPEG (quality 75) at most "
             f"{physics['colour_share_max']:.4f} (refused above {physics['limits'][3]}); refused by them: "
             f"{physics['refused']}. The layout check on the held-out ones: upright refused "
             f"{physics['layout_held_out']['upright_refused']:.3f} ("
             + ", ".join(f"{k} {v:.3f}" for k, v in physics['layout_held_out']['upright_refused_by_population'].items())
             + "), their altered copies (the kinds it was fitted "
             f"against) refused {physics['layout_held_out']['altered_refused']:.3f}, and 4 random copies of each "
             f"drawn afresh (turned, zoomed, cropped, stripped, flipped and tilted) refused "
             f"{physics['layout_held_out']['random_altered_refused']:.3f}.", ""]
    for set_name, set_label in NON_RADIOGRAPH_SETS.items():
        kinds = next(iter(results.values()))["sets"][set_name]["by_kind"]
        lines += [f"{set_label.capitalize()} (" + ", ".join(f"{k} {v['n']}" for k, v in kinds.items())
                  + "); refused share by kind:", "", "| model | " + " | ".join(kinds) + " |",
                  "|---|" + "---|" * len(kinds)]
        for n, r in results.items():
            by = r["sets"][set_name]["by_kind"]
            lines.append(f"| {n} | " + " | ".join(f"{by[k]['refused']:.2f}" for k in kinds) + " |")
        lines.append("")
    for n, r in results.items():
        lines.append(f"- `{n}`: refusal distance {r['stats'].refuse_at:.2f} ({r['stats'].fitted['refuse_rule']}); "
                     f"fitting took {r['fit_seconds']:.0f} s; the check costs "
                     + ", ".join(f"{ms:.0f} ms per image on the {NON_RADIOGRAPH_SETS[k].split(', ', 1)[1]} set"
                                 for k, ms in r["check_ms_per_image"].items())
                     + " (in batches of the whole set: one embedding pass, 1 thread).")
        for set_name, set_label in NON_RADIOGRAPH_SETS.items():
            missed = r["sets"][set_name]["missed"]
            lines.append(f"  - {set_label}, answered: " + (", ".join(f"{k} ({s})" for k, s in missed.items())
                                                           or "none") + ".")
    lines.append("")
    (out / "scope_check.md").write_text("\n".join(lines))
    print("\n".join(lines))
    if args.apply:
        for n, r in results.items():
            apply(n, r)
            print(f"applied: scope statistics written into the shipped model {n} and its card")


if __name__ == "__main__":
    main()
