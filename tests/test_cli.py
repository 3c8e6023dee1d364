"""The command-line contract: train -> predict -> evaluate, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chestxai.cli import main


@pytest.fixture(scope="module")
def trained(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    code = main(["train", "--data", str(synthetic_dir), "--findings", "effusion,pneumonia", "--image-size", "32",
                 "--epochs", "2", "--batch-size", "16", "--augment", "none", "--no-progress", "--out", str(out)])
    assert code == 0
    return out / "model.pt"


def test_train_prints_best_epoch(trained: Path) -> None:
    metrics = json.loads((trained.parent / "metrics.json").read_text())
    assert metrics["config"]["findings"] == ["effusion", "pneumonia"]
    assert metrics["config"]["command"].startswith("chestxai train --data ")
    assert metrics["best"]["val_auc"]["effusion"] >= 0.0


def test_predict_prints_json_per_image(trained: Path, synthetic_dir: Path, capsys: pytest.CaptureFixture) -> None:
    images = [str(synthetic_dir / "images" / f"img_000{i}.png") for i in range(2)]
    assert main(["predict", "--model", str(trained), *images]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == images
    assert set(out[images[0]]) == {"effusion", "pneumonia"}
    assert all(0.0 <= p <= 1.0 for p in out[images[0]].values())


def test_predict_bad_file_is_one_line_and_others_survive(
    trained: Path, synthetic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "report.png"
    bad.write_text("not an image")
    good = str(synthetic_dir / "images" / "img_0000.png")
    assert main(["predict", "--model", str(trained), str(bad), good]) == 1
    captured = capsys.readouterr()
    assert list(json.loads(captured.out)) == [good]
    assert "report.png" in captured.err and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_evaluate_writes_metrics_and_table(trained: Path, synthetic_dir: Path, tmp_path: Path) -> None:
    assert main(["evaluate", "--model", str(trained), "--data", str(synthetic_dir), "--bootstrap", "50",
                 "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) == {"effusion", "pneumonia"}
    assert {"auc", "auc_ci", "n", "accuracy", "sensitivity", "specificity"} <= set(metrics["effusion"])
    assert metrics["effusion"]["n"] == 120
    assert (tmp_path / "metrics.md").read_text().count("| effusion |") >= 1
    assert (tmp_path / "roc.png").stat().st_size > 0


def test_evaluate_measures_accuracy_at_the_models_own_thresholds_unless_given(
    trained: Path, synthetic_dir: Path, tmp_path: Path
) -> None:
    import torch

    payload = torch.load(trained, weights_only=True)
    payload["meta"]["thresholds"] = {"effusion": 0.2, "pneumonia": 0.7}
    torch.save(payload, tmp_path / "with_thresholds.pt")
    args = ["evaluate", "--model", str(tmp_path / "with_thresholds.pt"), "--data", str(synthetic_dir), "--bootstrap",
            "20", "--out"]
    assert main([*args, str(tmp_path / "own")]) == 0
    own = json.loads((tmp_path / "own" / "metrics.json").read_text())
    assert (own["effusion"]["threshold"], own["pneumonia"]["threshold"]) == (0.2, 0.7)
    assert "thresholds effusion 0.200, pneumonia 0.700" in (tmp_path / "own" / "metrics.md").read_text()
    assert main([*args, str(tmp_path / "given"), "--threshold", "0.4"]) == 0
    given = json.loads((tmp_path / "given" / "metrics.json").read_text())
    assert given["effusion"]["threshold"] == given["pneumonia"]["threshold"] == 0.4


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--data", "{data}", "--findings", "cardiomegaly", "--out", "{tmp}"], "cardiomegaly"),
        (["train", "--data", "{tmp}/nowhere", "--findings", "effusion", "--out", "{tmp}"], "nowhere"),
        (["predict", "--model", "{tmp}/missing.pt", "x.png"], "missing.pt"),
        (["evaluate", "--model", "{tmp}/missing.pt", "--data", "{data}", "--out", "{tmp}"], "missing.pt"),
        (["train", "--data", "{data}", "--findings", "effusion", "--epochs", "0", "--out", "{tmp}"], "--epochs"),
        (["train", "--data", "{data}", "--findings", "effusion", "--within-source", "pneumonia", "--out", "{tmp}"],
         "--within-source pneumonia"),
        (["train", "--data", "{data}", "--findings", "effusion", "--epochs", "3", "--head-epochs", "3", "--out",
          "{tmp}"], "--head-epochs"),
    ],
)
def test_user_errors_are_one_line_exit_2(
    argv: list[str], message: str, synthetic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = [a.format(data=synthetic_dir, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.startswith("chestxai: error:")


def test_csv_missing_required_column_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "labels.csv").write_text("picture,effusion\na.png,1\n")
    assert main(["train", "--data", str(tmp_path), "--findings", "effusion", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "labels.csv" in err and "image" in err


def test_evaluate_model_and_data_with_no_common_finding(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from PIL import Image

    (tmp_path / "images").mkdir()
    Image.new("L", (32, 32), 80).save(tmp_path / "images" / "a.png")
    (tmp_path / "labels.csv").write_text("image,cardiomegaly\nimages/a.png,1\n")
    assert main(["evaluate", "--model", str(trained), "--data", str(tmp_path), "--out", str(tmp_path / "e")]) == 2
    assert "nothing to evaluate" in capsys.readouterr().err


@pytest.mark.parametrize("spelling", ["path", "file name"])
def test_evaluate_explanations_with_a_boxes_csv(trained: Path, synthetic_dir: Path, tmp_path: Path,
                                                spelling: str) -> None:
    """Boxes handed over separately name their image by a path relative to the CSV or, like NIH's list, by file
    name alone."""
    import pandas as pd

    boxes = pd.read_csv(synthetic_dir / "boxes.csv").head(3)
    boxes["image"] = [str(synthetic_dir / p) if spelling == "path" else Path(p).name for p in boxes["image"]]
    boxes.to_csv(tmp_path / "three.csv", index=False)
    assert main(["evaluate-explanations", "--model", str(trained), "--data", str(synthetic_dir), "--boxes",
                 str(tmp_path / "three.csv"), "--methods", "silhouette", "--finding", "effusion", "--steps", "16",
                 "--samples", "1", "--out", str(tmp_path / "x")]) == 0
    summary = pd.read_csv(tmp_path / "x" / "summary.csv")
    assert summary.loc[0, "method"] == "silhouette" and summary.loc[0, "n"] == 3
    assert summary.loc[0, "relevance_mass_accuracy"] > summary.loc[0, "chance_level"]


def test_evaluate_explanations_unknown_method(trained: Path, synthetic_dir: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate-explanations", "--model", str(trained), "--data", str(synthetic_dir), "--methods",
                 "magic", "--finding", "effusion", "--out", str(tmp_path)]) == 2
    assert "unknown explanation method 'magic'" in capsys.readouterr().err


def test_evaluate_explanations_boxes_csv_naming_no_image_is_an_error(
    trained: Path, synthetic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Not a silent run without localisation metrics."""
    (tmp_path / "boxes.csv").write_text("image,finding,x,y,w,h\nother_patient.png,Effusion,1,1,8,8\n")
    assert main(["evaluate-explanations", "--model", str(trained), "--data", str(synthetic_dir), "--boxes",
                 str(tmp_path / "boxes.csv"), "--methods", "silhouette", "--finding", "effusion",
                 "--out", str(tmp_path / "x")]) == 2
    assert "no effusion box names an image of --data" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
