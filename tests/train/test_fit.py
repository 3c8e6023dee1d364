"""The training loop: it learns, it is deterministic, it resumes, it survives bad images."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from chestxai.data.datasets import load_dataset
from chestxai.errors import ConfigError, DataFormatError, UnknownFindingError
from chestxai.models import load_checkpoint
from chestxai.train.fit import TrainConfig, fit, invoking_command

FAST = dict(image_size=32, batch_size=16, val_fraction=0.3, augment=(), ema_decay=0.9)


def _weights(path: Path) -> list[torch.Tensor]:
    return [v for v in torch.load(path, weights_only=True)["state_dict"].values()]


def test_run_folder_has_checkpoint_metrics_and_curves(synthetic_dir: Path, tmp_path: Path) -> None:
    metrics = fit(load_dataset(synthetic_dir), tmp_path, TrainConfig(["effusion"], epochs=2, **FAST), progress=False)
    for name in ("model.pt", "metrics.json", "loss_curve.png", "roc_val.png", "last.pt"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    assert set(metrics["history"][0]) >= {"train_loss", "val_loss", "val_auc", "val_accuracy", "lr", "seconds"}
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["best"]["epoch"] == load_checkpoint(tmp_path / "model.pt").checkpoint_meta["metrics"]["epoch"]


def test_same_seed_same_weights(synthetic_dir: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(["effusion", "pneumonia"], epochs=1, **{**FAST, "augment": ("flip", "brightness", "crop")})
    fit(load_dataset(synthetic_dir), tmp_path / "a", cfg, progress=False)
    fit(load_dataset(synthetic_dir), tmp_path / "b", cfg, progress=False)
    for a, b in zip(_weights(tmp_path / "a" / "model.pt"), _weights(tmp_path / "b" / "model.pt")):
        assert torch.equal(a, b)


def test_run_seed_redraws_the_weights_on_the_same_validation_patients(synthetic_dir: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(["effusion", "pneumonia"], epochs=1, **{**FAST, "augment": ("flip", "crop")})
    for name, run_seed in (("split", None), ("same", 0), ("other", 5)):
        fit(load_dataset(synthetic_dir), tmp_path / name, replace(cfg, run_seed=run_seed), progress=False)
    val = {n: np.load(tmp_path / n / "val_predictions.npz")["index"] for n in ("split", "same", "other")}
    assert np.array_equal(val["split"], val["other"]) and np.array_equal(val["split"], val["same"])
    weights = {n: _weights(tmp_path / n / "model.pt") for n in ("split", "same", "other")}
    assert all(torch.equal(a, b) for a, b in zip(weights["split"], weights["same"]))  # run_seed 0 == seed 0
    assert not all(torch.equal(a, b) for a, b in zip(weights["split"], weights["other"]))


def test_resume_continues_where_it_stopped(synthetic_dir: Path, tmp_path: Path) -> None:
    data = load_dataset(synthetic_dir)
    fit(data, tmp_path / "straight", TrainConfig(["effusion"], epochs=2, **FAST), progress=False)
    fit(data, tmp_path / "resumed", TrainConfig(["effusion"], epochs=1, **FAST), progress=False)
    metrics = fit(data, tmp_path / "resumed", TrainConfig(["effusion"], epochs=2, **FAST), resume=True, progress=False)
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    straight = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)["model"]
    resumed = torch.load(tmp_path / "resumed" / "last.pt", weights_only=True)["model"]
    for key in straight:
        assert torch.allclose(straight[key].float(), resumed[key].float(), atol=1e-6), key


def test_bad_image_is_skipped_and_counted_unless_strict(synthetic_dir: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "data"
    shutil.copytree(synthetic_dir, root)
    (root / "images" / "img_0003.png").write_bytes(b"this is not a png")
    metrics = fit(load_dataset(root), tmp_path / "run", TrainConfig(["effusion"], epochs=1, **FAST), progress=False)
    assert metrics["n_skipped_images"] == 1
    with pytest.raises(DataFormatError, match="img_0003.png"):
        fit(load_dataset(root), tmp_path / "strict", TrainConfig(["effusion"], epochs=1, strict=True, **FAST),
            progress=False)


def test_learns_an_easy_task_to_high_auc_on_unseen_images(synthetic_dir: Path, synthetic_factory, tmp_path: Path) -> None:
    """A real learning test: held-out synthetic images (another seed), AUC > 0.9 for both findings."""
    from chestxai.evaluate.report import evaluate_model

    fit(load_dataset(synthetic_dir), tmp_path / "run",
        TrainConfig(["effusion", "pneumonia"], epochs=5, **{**FAST, "augment": ("flip", "brightness")}),
        progress=False)
    test_dir = synthetic_factory(tmp_path / "test", n=80, seed=7)
    report = evaluate_model(load_checkpoint(tmp_path / "run" / "model.pt"), load_dataset(test_dir),
                            tmp_path / "eval", n_boot=100)
    assert report["effusion"]["auc"] > 0.9
    assert report["pneumonia"]["auc"] > 0.9
    assert report["effusion"]["n"] == 80


def test_init_starts_the_trunk_from_another_tasks_checkpoint(synthetic_dir: Path, tmp_path: Path) -> None:
    data = load_dataset(synthetic_dir)
    fit(data, tmp_path / "source", TrainConfig(["pneumonia"], epochs=1, **FAST), progress=False)
    source = load_checkpoint(tmp_path / "source" / "model.pt")
    cfg = TrainConfig(["effusion", "normal"], epochs=1, lr=0.0, init=str(tmp_path / "source" / "model.pt"), **FAST)
    fit(data, tmp_path / "target", cfg, progress=False)
    target = load_checkpoint(tmp_path / "target" / "model.pt")
    assert target.findings == ["effusion", "normal"]
    for (name, a), (_, b) in zip(source.trunk.named_parameters(), target.trunk.named_parameters()):
        assert torch.allclose(a, b, atol=1e-3), name  # lr 0: the trunk is the source's (float16-free copy)


def test_init_from_another_architecture_is_refused(synthetic_dir: Path, tmp_path: Path) -> None:
    data = load_dataset(synthetic_dir)
    fit(data, tmp_path / "source", TrainConfig(["effusion"], epochs=1, **FAST), progress=False)
    cfg = TrainConfig(["effusion"], arch="resnet50", epochs=1, init=str(tmp_path / "source" / "model.pt"), **FAST)
    with pytest.raises(ConfigError, match="densenet121"):
        fit(data, tmp_path / "target", cfg, progress=False)


def test_within_source_ignores_a_finding_where_its_source_gives_it_away(synthetic_dir: Path, tmp_path: Path) -> None:
    data = load_dataset(synthetic_dir, findings=["effusion", "pneumonia"])
    half = len(data) // 2
    data.meta["source"] = ["with"] * half + ["without"] * (len(data) - half)
    data.labels[half:, 1] = 0.0  # pneumonia never positive in the second source: the label names the source
    data.labels[:half, 1] = np.arange(half) % 2  # and half positive in the first
    logged: list[str] = []
    metrics = fit(data, tmp_path, TrainConfig(["effusion", "pneumonia"], epochs=1, within_source=("pneumonia",),
                                              **FAST), progress=False, log=logged.append)
    assert any("{'pneumonia': ['without']}" in line for line in logged)
    assert metrics["within_source_blanked"] == {"pneumonia": ["without"]}  # recorded for the run's report
    saved = np.load(tmp_path / "val_predictions.npz")
    unknown = np.isnan(saved["labels"][:, 1])
    np.testing.assert_array_equal(unknown, saved["index"] >= half)  # validation too: only the first source counts
    assert not np.isnan(saved["labels"][:, 0]).any()
    with pytest.raises(UnknownFindingError, match="edema"):
        fit(data, tmp_path / "bad", TrainConfig(["effusion"], epochs=1, within_source=("edema",), **FAST),
            progress=False)


def test_pos_weight_is_taken_back_off_the_reported_probabilities(synthetic_dir: Path, tmp_path: Path) -> None:
    """A loss weighting positives by w multiplies the learned odds by w: the checkpoint stores -log w per finding,
    applied to every reported probability (validation predictions included), never to the logits."""
    from chestxai.data.cache import cache_images
    from chestxai.train.fit import split_for_training
    from chestxai.train.losses import positive_weights

    data = load_dataset(synthetic_dir)
    data.labels[:, 0] = (np.arange(len(data)) % 4 == 0).astype(np.float32)  # 1 positive in 4
    fit(data, tmp_path, TrainConfig(["effusion"], epochs=1, pos_weight=True, **FAST), progress=False)
    train_idx, _ = split_for_training(data.select(["effusion"]), FAST["val_fraction"], 0)
    w = float(positive_weights(data.labels[train_idx, :1])[0])
    assert w > 1.5
    model = load_checkpoint(tmp_path / "model.pt")
    assert model.checkpoint_meta["logit_shift"]["effusion"] == pytest.approx(-np.log(w), rel=1e-5)
    saved = np.load(tmp_path / "val_predictions.npz")
    cached = cache_images(data, model.preprocess)
    x = model.preprocess.normalise(np.asarray(cached.images[saved["index"]]))
    with torch.no_grad():
        raw = torch.sigmoid(model(x)).numpy()[:, 0]
    shifted = model.predict_tensor(x)[:, 0]
    assert (shifted < raw).all()
    np.testing.assert_allclose(shifted, saved["probs"][:, 0], atol=1e-4)
    fit(data, tmp_path / "plain", TrainConfig(["effusion"], epochs=1, **FAST), progress=False)
    assert "logit_shift" not in load_checkpoint(tmp_path / "plain" / "model.pt").checkpoint_meta


def test_recorded_command_runs_as_written() -> None:
    # A script's command line gets its interpreter back (the model card shows it to be copied); quoting survives.
    assert invoking_command(["release/train_reference.py", "--out", "runs/a b"]) == \
        "python release/train_reference.py --out 'runs/a b'"
    assert invoking_command(["chestxai", "train", "--epochs", "2"]) == "chestxai train --epochs 2"


def test_head_epochs_leave_the_trunk_untouched_then_train_it(synthetic_dir: Path, tmp_path: Path) -> None:
    """LP-FT: during the head-only epochs no trunk weight or batch-norm statistic moves; afterwards they do."""
    data = load_dataset(synthetic_dir)
    fit(data, tmp_path / "source", TrainConfig(["effusion"], epochs=1, **FAST), progress=False)
    start = load_checkpoint(tmp_path / "source" / "model.pt").trunk.state_dict()
    init = str(tmp_path / "source" / "model.pt")
    cfg = dict(FAST, ema_decay=0.0)
    fit(data, tmp_path / "probe", TrainConfig(["effusion"], epochs=2, head_epochs=2, init=init, **cfg), progress=False)
    probed = torch.load(tmp_path / "probe" / "last.pt", weights_only=True)["model"]
    fit(data, tmp_path / "lpft", TrainConfig(["effusion"], epochs=3, head_epochs=2, init=init, **cfg), progress=False)
    tuned = torch.load(tmp_path / "lpft" / "last.pt", weights_only=True)["model"]
    trunk = [k for k in start if start[k].is_floating_point()]
    assert all(torch.equal(probed["trunk." + k], start[k]) for k in trunk)
    assert not torch.equal(probed["head.weight"], tuned["head.weight"])
    assert sum(not torch.equal(tuned["trunk." + k], start[k]) for k in trunk) > len(trunk) // 2
