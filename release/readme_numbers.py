"""Regenerate every number and picture the README shows from the shipped model: re-run it after shipping a model.

The README quotes model output in a few places (the ``predict`` and ``check-scope`` examples, the screenshot's
caption, the ``curl`` answer, the scope-check table); :func:`render` recomputes each from the shipped files and
rewrites those lines in place, and ``tests/test_readme.py`` fails when ``render(README) != README``, i.e. when the
README no longer says what the shipped model does.

    python release/readme_numbers.py [--screenshots]

``--screenshots`` also retakes ``docs/service_screenshot.png`` and ``docs/scope_warning.png`` with the browser test
(needs Chromium at /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DATA = "../shared/data/images/"
PREDICT_IMAGE = "nih_00000100_000.png"  # the tour's predict example: a development image labelled effusion
SHOT_IMAGE = "nih_00005927_006.png"  # the screenshot's and curl's image: a test patient the model gets wrong
CHILD = "../shared/kermany/images/k_IM-0117-0001.png"


def facts() -> dict[str, Any]:
    """What the shipped default model says about the README's example images."""
    import chestxai
    from chestxai.models.zoo import model_card

    model = chestxai.load_model("nih-adult")
    data = REPO.parent / "shared" / "data" / "images"
    scope_args = [(f"{DATA}{PREDICT_IMAGE}", data / PREDICT_IMAGE), (CHILD, REPO.parent / "shared" / "kermany" /
                                                                      "images" / Path(CHILD).name)]
    return {
        "predict": chestxai.predict(data / PREDICT_IMAGE, model)["probabilities"],
        "shot": chestxai.predict(data / SHOT_IMAGE, model)["probabilities"],
        "shot_scope": chestxai.check_scope(data / SHOT_IMAGE, model).scope,
        "thresholds": model.checkpoint_meta["thresholds"],
        "scope": {shown: {k: v for k, v in chestxai.check_scope(path, model).to_json().items()
                          if k in ("scope", "score", "reason")} for shown, path in scope_args},
        "cards": {name: model_card(name)["scope"] for name in ("nih-adult", "kermany-paediatric")},
    }


def _sub(pattern: str, replacement: str, text: str) -> str:
    new, count = re.subn(pattern, lambda _m: replacement, text, flags=re.MULTILINE)
    if count != 1:
        raise SystemExit(f"README: expected one line matching {pattern!r}, found {count}")
    return new


def render(text: str, f: dict[str, Any]) -> str:
    """``text`` (the README) with every model-derived line recomputed from ``f`` (:func:`facts`)."""
    p, shot, t = f["predict"], f["shot"], f["thresholds"]
    text = _sub(rf'^# \{{"{re.escape(DATA + PREDICT_IMAGE)}": \{{"effusion".*$',
                f'# {{"{DATA}{PREDICT_IMAGE}": {{' + ", ".join(f'"{k}": {v:.3f}...' for k, v in p.items()) + "}}",
                text)
    text = _sub(r"^threshold [0-9.]+, and pneumonia, which the model learned only within the other source, is a .*$",
                f"threshold {t['effusion']:.3f}, and pneumonia, which the model learned only within the other source, "
                f"is a {'false positive' if p['pneumonia'] >= t['pneumonia'] else 'true negative'}.)", text)
    lines = [json.dumps({path: entry}) for path, entry in f["scope"].items()]
    text = _sub(r'^# \{"\.\./shared/data/images/nih_00000100_000\.png": \{"scope".*$', f"# {lines[0][:-1]},", text)
    text = _sub(r'^#  "\.\./shared/kermany/images/k_IM-0117-0001\.png": \{"scope".*$', f"#  {lines[1][1:]}", text)
    text = _sub(r"^`nih-adult` calls .*$", f"`nih-adult` calls it {verdict(shot, t)}; Grad-CAM++ for effusion "
                "shown anyway. The first similar case is the image's", text)
    text = _sub(r'^# \{"scope": \{"scope": .*$', f'# {{"scope": {{"scope": "{f["shot_scope"]}", ...}}, "probabilities": '
                f'{{"effusion": {shot["effusion"]:.3f}, ...}}, "explanations": {{"gradcam": {{"box": {{"x", "y", "w", '
                '"h"}, "heatmap_url",', text)
    for name, card in f["cards"].items():
        (other, flagged), = card["other_populations_flagged"].items()
        caught = flagged + card["other_populations_refused"][other]
        text = _sub(rf"^\| `{re.escape(name)}` \| [0-9.]+ \(.*$",
                    f"| `{name}` | {card['own_test_in_scope']:.3f} ({card['own_test_n']}) | {caught:.3f} of "
                    f"{card['other_populations_n'][other]} {'Kermany children' if 'kermany' in other else 'NIH adults'}"
                    f" | {card['fresh_non_radiographs_refused']:.3f} of {card['fresh_non_radiographs_n']}"
                    + (f" and {card['fresh6_non_radiographs_refused']:.3f} of {card['fresh6_non_radiographs_n']}"
                       if "fresh6_non_radiographs_n" in card else "")
                    + " (goal 0.99"
                    + (": not met" if min(card["fresh_non_radiographs_refused"],
                                          card.get("fresh6_non_radiographs_refused", 1.0)) < 0.99 else "")
                    + f") | {card['non_radiographs_refused']:.3f} of {card['non_radiographs_n']} |", text)
    return text


def verdict(p: dict[str, float], t: dict[str, float]) -> str:
    """'negative for effusion (0.06 < 0.175), ...' in the README's words ("no finding" for normal)."""
    names = {"normal": "no finding"}
    return ", ".join(f"{'positive' if p[k] >= t[k] else 'negative'} for {names.get(k, k)} ({p[k]:.2f} "
                     f"{'>=' if p[k] >= t[k] else '<'} {t[k]:.3f})" for k in p)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screenshots", action="store_true", help="retake the README's screenshots (browser test)")
    args = ap.parse_args()
    README.write_text(render(README.read_text(), facts()))
    print(f"rewrote the model-derived lines of {README}")
    if args.screenshots:
        env = {**os.environ, "CHESTXAI_SCREENSHOT": "docs/service_screenshot.png",
               "CHESTXAI_SCOPE_SCREENSHOT": "docs/scope_warning.png"}
        subprocess.run([sys.executable, "-m", "pytest", "tests/service/test_browser.py"], cwd=REPO, env=env,
                       check=True)


if __name__ == "__main__":
    main()
