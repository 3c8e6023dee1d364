"""The human model card (``MODEL_CARD.md``) of a shipped model, rendered from its machine card (``card.json``).

A pure function of ``card.json``'s numbers, so re-rendering an unchanged card gives the same bytes. The release steps
(``release/ship_model.py``, ``release/calibration.py --apply``) and ``benchmarks/scope_check.py --apply`` all write
the card through :func:`render_card`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chestxai.data.atomic import atomic_write_text


def probability_lines(card: dict[str, Any]) -> list[str]:
    """The card's line on what its probabilities mean: a --pos-weight run reports them with -log w taken back off."""
    shift = {f: v for f, v in (card.get("logit_shift") or {}).items() if v}
    if not shift:
        return []
    line = ("- Probabilities: training weighted positives by w = negatives / positives (`--pos-weight`), which "
            "multiplies the odds the network learns by w; reported probabilities take it back off (logit shift "
            + ", ".join(f"{f} {v:+.2f}" for f, v in shift.items()) + "), so they sit on the training prevalence's "
            "scale. Thresholds above are on that scale.")
    held_out = card.get("calibration") or {}
    if held_out:
        line += (" Held-out test patients (`release/results/calibration.md`), expected calibration error "
                 "without -> with the shift: " + ", ".join(
                     f"{f} {r['raw']['ece']['value']:.3f} -> {r['prior']['ece']['value']:.3f} (mean probability "
                     f"{r['raw']['mean_p']['value']:.2f} -> {r['prior']['mean_p']['value']:.2f}, prevalence "
                     f"{r['prior']['prevalence']:.2f})" for f, r in held_out.items() if f in shift) + ".")
    return [line]


def render_card(card: dict[str, Any]) -> str:
    """The human model card, from the same numbers as card.json."""
    def row(f: str, e: dict[str, Any]) -> str:
        return f"| {f} | {e['auc']:.3f} | {e['ci'][0]:.3f}-{e['ci'][1]:.3f} | {e['n']} | {e['positives']} |"

    def rows(f: str, e: dict[str, Any]) -> list[str]:
        return [row(f, e)] + [row(f"{f} within {source}", w) for source, w in e.get("within_source", {}).items()]

    within = card.get("within_source") or []
    learned = (f" {', '.join(within)} learned only within the source where it varies (`--within-source`: its "
               "label ignored on the images of a source with under 10% positives, so the network cannot score it "
               "by recognising the source); its validation AUC is therefore within that source." if within else "")

    ssl = card.get("pretraining")
    pretrained = (f" The trunk was first pretrained without labels (SimCLR, `release/pretrain_ssl.py`) on "
                  f"{ssl['images']:,} radiographs (all of the paediatric folder and the development patients here; "
                  f"the test patients never seen): {ssl['steps']} steps, {ssl['epochs']:.1f} epochs, "
                  f"{ssl['minutes']:.0f} minutes, contrastive loss {ssl['loss'][0]:.2f} -> {ssl['loss'][1]:.2f}; "
                  + ", then ".join(f"`{c}`" for c in ssl["commands"]) + " repeat"
                  + ("s" if len(ssl["commands"]) == 1 else "") + " the recipe." if ssl else "")
    lines = [f"# Model card: `{card['name']}` — {card['title']}", "",
             "**Research tool, not a medical device.** It must not be used to diagnose, treat or triage patients.", "",
             "## Model", "",
             f"- Architecture: {card['arch']} (torchvision), "
             f"{'trunk from ' + card['init'] + ' (see Training; ' if card.get('init') else 'random initialisation ('}"
             "no ImageNet weights were available), "
             f"{card['image_size']} px grayscale input, one sigmoid output per finding: {', '.join(card['findings'])}.",
             "- Decision thresholds (Youden's J on the validation split): "
             + ", ".join(f"{f} {t:.3f}" for f, t in card["thresholds"].items()) + ".",
             *probability_lines(card),
             f"- File: half-precision checkpoint, {card['size_mb']:.1f} MB.", "",
             "## Data and licences", "", card["data"], "",
             "## Training", "",
             f"Recipe: `chestxai train` (BCEWithLogits, AdamW wd 1e-4, ReduceLROnPlateau 0.1/5, early stopping, "
             f"batch 32, albumentations flip/brightness-contrast/elastic/blur/rotation/affine/crop, EMA weights). "
             f"Command: `{card['command']}`, then `{card['ship_command']}`. "
             f"Best epoch {card['best_epoch']}; {card['train_minutes']:.0f} wall minutes of training on 2 CPU cores."
             + learned + pretrained, "",
             "## Validation (patient-level split of the training folder, used for model selection)", "",
             "| finding | AUC | 95% CI | n | positives |", "|---|---|---|---|---|",
             *[row(f, e) for f, e in card["validation"].items()], ""]
    if card.get("test"):
        lines += ["## Held-out test patients (full resolution, never seen in training or selection)", "",
                  "| finding | AUC | 95% CI | n | positives |", "|---|---|---|---|---|",
                  *[line for f, e in card["test"].items() for line in rows(f, e)], ""]
    lines += [f"## Shipped sample (`assets/samples/{card['sample']}`, downscaled test patients; re-checked by the tests)",
              "", "| finding | AUC | 95% CI | n | positives |", "|---|---|---|---|---|"]
    lines += [line for f, e in card["sample_auc"].items() for line in rows(f, e)]
    lines += scope_lines(card)
    lines += ["", "## Intended use and limits", "", card["limits"], ""]
    return "\n".join(lines)


def scope_lines(card: dict[str, Any]) -> list[str]:
    """The card's scope-check section (``benchmarks/scope_check.py --apply`` writes its numbers)."""
    scope = card.get("scope")
    if not scope:
        return []
    others = ", ".join(f"{p}: {share:.1%} of {scope['other_populations_n'][p]} flagged outside the population "
                       f"({scope['other_populations_refused'][p]:.1%} refused)"
                       for p, share in scope["other_populations_flagged"].items())
    earlier = [f"{scope[f'{r}_non_radiographs_refused']:.1%} of {scope[f'{r}_non_radiographs_n']}"
               for r in ("round2", "round3", "round4") if f"{r}_non_radiographs_n" in scope]
    listed = ", ".join(earlier[:-1]) + (" and " if len(earlier) > 1 else "") + (earlier[-1] if earlier else "")
    seen = ("" if not earlier else f"; {listed} in earlier fresh sets, seen since (what leaked from them shaped the "
            "colour limit and the layout check)")
    return ["", "## Scope check (what it refuses or warns about)", "",
            "Before answering, each image is judged `in_scope`, `outside_population` (answered, with a warning and "
            "the shipped model that fits) or `not_a_chest_radiograph` (refused): DICOM Modality, BodyPartExamined, "
            "ViewPosition and PatientAge where the file has them, rules of what any chest film is (grey, not "
            "colour; anatomy, not pixel-scale noise or text; not a smooth ramp; a torso crossing the image, not an "
            "object on an empty background), a layout check (an upright, whole radiograph?), "
            "the distance of the image's embedding to Gaussian models of the shipped models' training populations "
            f"(refused above {scope['refuse_at']:.2f}x the held-out 99th percentile) and a classifier of those "
            "populations on the embedding, all fitted on development patients only. Measured on held-out test "
            f"patients and {2 + len(earlier)} non-radiograph sets (`{scope['results']}`): "
            f"own test patients in scope {scope['own_test_in_scope']:.1%} of {scope['own_test_n']} (goal >= 95%); "
            f"{others} (goal >= 95%); non-radiographs refused (goal >= 99%): "
            + (f"{scope['fresh_non_radiographs_refused']:.1%} of {scope['fresh_non_radiographs_n']} and "
               f"{scope['fresh6_non_radiographs_refused']:.1%} of {scope['fresh6_non_radiographs_n']} in two fresh "
               "sets built after the check was fixed, each scored once"
               if "fresh6_non_radiographs_n" in scope else
               f"{scope['fresh_non_radiographs_refused']:.1%} of {scope['fresh_non_radiographs_n']} in a fresh set "
               "built after the check was fixed and scored once")
            + (", not met" if min(scope["fresh_non_radiographs_refused"],
                                  scope.get("fresh6_non_radiographs_refused", 1.0)) < 0.99 else "")
            + f", and {scope['non_radiographs_refused']:.1%} of {scope['non_radiographs_n']} in the set seen while "
            "the check was designed (what leaked from it led to the layout check and the rules above, so it "
            f"flatters){seen}."]


def read_card(folder: str | Path) -> dict[str, Any]:
    """A shipped model's machine card (``folder/card.json``)."""
    return json.loads((Path(folder) / "card.json").read_text())


def write_card(folder: str | Path, card: dict[str, Any]) -> None:
    """Write ``card.json`` and the ``MODEL_CARD.md`` rendered from it into ``folder``, each atomically."""
    atomic_write_text(json.dumps(card, indent=2, default=float), Path(folder) / "card.json")
    atomic_write_text(render_card(card), Path(folder) / "MODEL_CARD.md")
