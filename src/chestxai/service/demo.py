"""``chestxai demo FILE``: the page's whole chain on the command line, for people without a browser.

It runs the very :class:`~chestxai.service.analysis.Analyzer` the web service runs (same model loading, decision
thresholds, target finding, boxes and similar cases), then writes what the page would show as files:
``<out>/overlay_<method>.png`` per method, ``<out>/case_<id>.png`` (each similar case's own heatmap) and
``<out>/result.json``; and prints a short plain-text summary. ``<out>`` defaults to ``demo`` in the user cache
(:func:`default_out`), never the working directory; each run replaces the previous run's files there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chestxai.errors import ImageReadError
from chestxai.service.analysis import Analyzer


def run_demo(analyzer: Analyzer, image: str | Path, out_dir: str | Path, methods: str | None = None,
             k: int = 5, finding: str | None = None) -> dict[str, Any]:
    """Analyse ``image``, write the overlays and the JSON, and return the JSON (paths instead of URLs)."""
    path = Path(image)
    if not path.is_file():
        raise ImageReadError(f"{path}: file not found")
    result = analyzer.analyze(path.read_bytes(), methods, k, finding, name=path.name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("overlay_*.png"), *out.glob("case_*.png"), out / "result.json"]:
        old.unlink(missing_ok=True)  # this run's files replace the last run's, they do not pile up
    explanations = {}
    for method, expl in result.explanations.items():
        png = out / f"overlay_{method}.png"
        png.write_bytes(analyzer.overlay_png(result.id, method))
        explanations[method] = {"finding": expl.finding, "box": _box(expl.box), "overlay": str(png),
                                "note": expl.saliency_map().note}
    first = next(iter(result.explanations), "gradcam")
    similar = []
    for case, score in result.similar:
        png = out / f"case_{case.id}.png"
        png.write_bytes(analyzer.case_overlay_png(case.id, first, result.finding))
        similar.append({"case": case.id, "image": case.image, "score": round(float(score), 4),
                        "labels": dict(case.labels), "overlay": str(png)})
    record = {"image": str(path), "model": analyzer.model_name,
              "scope": result.scope.to_json() if result.scope is not None else None, "finding": result.finding,
              "probabilities": {f: round(p, 4) for f, p in result.probabilities.items()},
              "thresholds": result.thresholds, "explanations": explanations, "similar": similar,
              "timing_ms": result.timing_ms}
    (out / "result.json").write_text(json.dumps(record, indent=2))
    return record


def default_out() -> Path:
    """Where ``chestxai demo`` writes without ``--out``: ``$CHESTXAI_CACHE/demo`` (``~/.cache/chestxai/demo``)."""
    from chestxai.data.cache import default_cache_dir

    return default_cache_dir() / "demo"


def _box(box) -> dict[str, float] | None:
    return None if box is None else {key: round(float(v), 1) for key, v in zip(("x", "y", "w", "h"), box)}


def summary_text(record: dict[str, Any]) -> str:
    """What a reader wants first: each finding's probability against its threshold, the box, the similar cases."""
    lines = [f"{record['image']}  (model {record['model']})"]
    scope = record.get("scope") or {}
    if scope.get("scope") == "outside_population":
        lines.append(f"WARNING: outside the model's population ({scope['reason']})")
    lines.append("findings:")
    for finding, p in record["probabilities"].items():
        t = record["thresholds"][finding]
        lines.append(f"  {finding:<10} {p:6.3f}  {'POSITIVE' if p >= t else 'negative'} (threshold {t:.3f})")
    lines.append(f"evidence for {record['finding']}:")
    for method, e in record["explanations"].items():
        box = e["box"]
        if e.get("note"):
            where = "flat map: no positive evidence, no box"
        elif box is None:
            where = "no region above the saliency threshold"
        else:
            where = f"box x={box['x']:.0f} y={box['y']:.0f} w={box['w']:.0f} h={box['h']:.0f} px"
        lines.append(f"  {method:<17} {where}  -> {e['overlay']}")
    if record["similar"]:
        lines.append("similar cases (best first):")
        for s in record["similar"]:
            labels = ", ".join(f for f, v in s["labels"].items() if v == 1) or "no finding labelled"
            lines.append(f"  case {s['case']:<5} score {s['score']:.3f}  {labels}  -> {s['overlay']}")
    else:
        lines.append("similar cases: none (no catalogue)")
    return "\n".join(lines)

