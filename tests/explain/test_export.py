"""``chestxai explain``: the promised files per image and method, and one-line errors for bad arguments."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from chestxai.cli import main
from chestxai.data.preprocess import Preprocess
from chestxai.models import Classifier, save_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "model.pt"
    save_checkpoint(Classifier(["effusion", "pneumonia"], "densenet121", Preprocess(32)), path)
    return str(path)


def _png(path, shape) -> str:
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random(shape) * 255).astype(np.uint8)).save(path)
    return str(path)


def test_cli_writes_overlay_map_json_and_panel(tmp_path, checkpoint, capsys) -> None:
    a, b = _png(tmp_path / "case_a.png", (45, 60)), _png(tmp_path / "case_b.png", (40, 40))
    out = tmp_path / "out"
    code = main(["explain", "--model", checkpoint, "--methods", "gradcam,silhouette", "--finding", "effusion",
                 "--out", str(out), a, b])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {a, b} and set(printed[a]) == {"gradcam", "silhouette"}
    for stem, shape in (("case_a", (45, 60)), ("case_b", (40, 40))):
        for method in ("gradcam", "silhouette"):
            values = np.load(out / stem / f"{method}.npy")
            assert values.shape == shape and values.dtype == np.float32
            assert 0.0 <= values.min() and values.max() <= 1.0
            record = json.loads((out / stem / f"{method}.json").read_text())
            assert record["method"] == method and record["finding"] == "effusion"
            assert 0.0 < record["probability"] < 1.0 and "params" in record and "box" in record
            assert record["command"].startswith("chestxai ")
            flat = bool(values.max() - values.min() <= 1e-8)
            summary = printed[a if stem == "case_a" else b][method]
            assert (record["note"] is not None) == flat and ("note" in summary) == flat
            Image.open(out / stem / f"{method}.png").verify()
        Image.open(out / stem / "panel.png").verify()
    assert json.loads((out / "case_a" / "silhouette.json").read_text())["box"] is not None


@pytest.mark.parametrize("args, message", [
    (["--methods", "gradcam,nope"], "unknown explanation method 'nope'"),
    (["--finding", "cardiomegaly"], "does not know finding 'cardiomegaly'"),
    (["--threshold", "1.5"], "threshold must be between 0 and 1"),
])
def test_bad_arguments_give_one_line_and_exit_2(tmp_path, checkpoint, capsys, args, message) -> None:
    image = _png(tmp_path / "x.png", (32, 32))
    base = {"--methods": "gradcam", "--finding": "effusion"}
    base.update(dict(zip(args[::2], args[1::2])))
    argv = ["explain", "--model", checkpoint, "--out", str(tmp_path / "o"), *sum(base.items(), ()), image]
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chestxai: error:") and message in err and "\n" not in err


def test_unreadable_image_is_reported_and_the_rest_explained(tmp_path, checkpoint, capsys) -> None:
    good = _png(tmp_path / "good.png", (32, 32))
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    code = main(["explain", "--model", checkpoint, "--finding", "effusion", "--out", str(tmp_path / "o"),
                 good, str(bad)])
    assert code == 1
    assert (tmp_path / "o" / "good" / "gradcam.npy").is_file() and not (tmp_path / "o" / "bad").exists()
    assert "bad.png" in capsys.readouterr().err
