"""Write explanations to disk, the layout ``chestxai explain`` promises (the CLI stays a thin wrapper):

``OUT/<image stem>/<method>.png`` (overlay), ``<method>.npy`` (the raw map, float32, the image's height x width, in
[0, 1]), ``<method>.json`` (probability, box, method parameters, a note when the map is flat, the command) and
``panel.png`` (original | boxes | each method). Each method is built once and explains all readable images in batches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from chestxai.errors import ChestXAIError, ConfigError
from chestxai.explain.base import SaliencyMap, check_fraction, get_method
from chestxai.explain.evidence import overlay, panel, to_box
from chestxai.models.scope import NOT_A_CHEST_RADIOGRAPH, OUTSIDE_POPULATION, check_scope_batch, refusal


def unique_stems(paths: Sequence[str | Path]) -> list[str]:
    """Output folder names; two inputs with the same stem would overwrite each other, so that is refused."""
    stems = [Path(p).stem for p in paths]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise ConfigError(f"several images share the file name stem {clashes[0]!r}; their outputs would collide")
    return stems


def read_images(paths: Sequence[str | Path]) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, dict]]:
    """Decode every path (pixels and DICOM header); unreadable ones are reported (path -> message) instead of
    stopping the batch."""
    from chestxai.data.io import read_image_and_header

    images, errors, headers = {}, {}, {}
    for path in paths:
        try:
            images[str(path)], headers[str(path)] = read_image_and_header(path)
        except ChestXAIError as exc:
            errors[str(path)] = str(exc)
    return images, errors, headers


def map_record(smap: SaliencyMap, image: str, threshold: float, command: str | None) -> dict[str, Any]:
    """The JSON written beside a map."""
    box = to_box(smap, threshold)
    return {
        "image": image, "method": smap.method, "finding": smap.target, "probability": smap.probability,
        "box": list(box) if box else None, "box_format": "x, y, width, height in image pixels",
        "box_threshold": threshold, "height": int(smap.map.shape[0]), "width": int(smap.map.shape[1]),
        "params": smap.params, "extras": smap.extras, "note": smap.note, "command": command,
    }


def write_map(folder: Path, image: np.ndarray, smap: SaliencyMap, record: dict, positive_only: float | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{smap.method}.npy", smap.map.astype(np.float32))
    (folder / f"{smap.method}.json").write_text(json.dumps(record, indent=2, default=float))
    overlay(image, smap, folder / f"{smap.method}.png", threshold=record["box_threshold"], positive_only=positive_only)


def explain_files(
    model: nn.Module,
    paths: Sequence[str | Path],
    methods: Sequence[str],
    finding: str,
    out: str | Path,
    *,
    threshold: float = 0.5,
    positive_only: float | None = None,
    command: str | None = None,
    method_params: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Explain ``finding`` on each image with each method and write the files above; returns a summary
    ``{"images": {path: {method: {probability, box}}}, "errors": {path: message}, "warnings": {path: message}}``
    (refused by the scope check: an error; outside the model's population: a warning)."""
    check_fraction("threshold", threshold)
    if positive_only is not None:
        check_fraction("--positive-only", positive_only)
    model.finding_index(finding)  # fail before any work on an unknown finding
    classes = {name: get_method(name) for name in methods}
    stems = dict(zip(map(str, paths), unique_stems(paths)))
    images, errors, headers = read_images(paths)
    # The scope check runs first, as before every prediction: a refused image is an error of the batch (no maps), one
    # outside the model's population is explained with a warning naming the model that fits.
    warnings: dict[str, str] = {}
    for name, scope in zip(list(images), check_scope_batch(model, list(images.values()), list(headers.values()))):
        if scope.scope == NOT_A_CHEST_RADIOGRAPH:
            errors[name] = str(refusal(name, scope))
            del images[name]
        elif scope.scope == OUTSIDE_POPULATION:
            warnings[name] = f"{name}: {scope.warning()}"
    names = list(images)
    results: dict[str, dict[str, SaliencyMap]] = {name: {} for name in names}
    for method, cls in classes.items():
        with cls(model, **(method_params or {}).get(method, {})) as explainer:
            for name, smap in zip(names, explainer.explain([images[n] for n in names], finding)):
                results[name][method] = smap
    summary: dict[str, Any] = {"images": {}, "errors": errors, "warnings": warnings}
    for name in names:
        folder = Path(out) / stems[name]
        summary["images"][name] = {}
        for method, smap in results[name].items():
            record = map_record(smap, name, threshold, command)
            write_map(folder, images[name], smap, record, positive_only)
            summary["images"][name][method] = {"probability": smap.probability, "box": record["box"]}
            if record["note"]:
                summary["images"][name][method]["note"] = record["note"]
        panel(images[name], list(results[name].values()), folder / "panel.png", threshold=threshold,
              positive_only=positive_only, title=f"{Path(name).name}: {finding}")
    return summary
