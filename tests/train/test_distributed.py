"""DDP training: two gloo processes on CPU train, write what one process writes, and resume (also under torchrun)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chestxai.cli import main
from chestxai.models import load_checkpoint
from chestxai.train.distributed import DistContext, session

ARGS = ["--findings", "effusion,pneumonia", "--image-size", "32", "--batch-size", "16", "--val-fraction", "0.3",
        "--augment", "none", "--ema-decay", "0.9", "--no-progress"]


def _train(data: Path, out: Path, *extra: str) -> int:
    return main(["train", "--data", str(data), "--out", str(out), *ARGS, *extra])


def test_single_process_session_needs_no_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with session() as ctx:
        assert ctx == DistContext() and ctx.is_main and not ctx.active
        assert ctx.share([1.5, 0.0]) == [1.5, 0.0] and ctx.mean(6.0, 3) == 2.0 and ctx.local_batch(16) == 16


def test_two_gloo_processes_checkpoint_loads_like_single_process(synthetic_dir: Path, tmp_path: Path) -> None:
    assert _train(synthetic_dir, tmp_path / "single", "--epochs", "1") == 0
    assert _train(synthetic_dir, tmp_path / "ddp", "--epochs", "1", "--nproc", "2") == 0
    single, ddp = load_checkpoint(tmp_path / "single" / "model.pt"), load_checkpoint(tmp_path / "ddp" / "model.pt")
    assert ddp.findings == single.findings == ["effusion", "pneumonia"]
    assert ddp.preprocess.image_size == single.preprocess.image_size == 32
    assert ddp.state_dict().keys() == single.state_dict().keys()
    meta_keys = lambda m: set(m.checkpoint_meta) - {"command"}  # noqa: E731
    assert meta_keys(ddp) == meta_keys(single)
    a = json.loads((tmp_path / "single" / "metrics.json").read_text())
    b = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert (a["n_train"], a["n_val"]) == (b["n_train"], b["n_val"])
    assert set(a["history"][0]) == set(b["history"][0]) and [h["epoch"] for h in b["history"]] == [1]
    assert ddp.predict(np_images(2)).shape == (2, 2)


@pytest.mark.skipif(shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists(),
                    reason="torchrun not installed")
def test_torchrun_resumes_a_spawned_run(synthetic_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _train(synthetic_dir, out, "--epochs", "1", "--nproc", "2") == 0
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "chestxai", "train", "--data", str(synthetic_dir),
           "--out", str(out), *ARGS, "--epochs", "2", "--resume"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["model"].endswith("model.pt")  # one JSON answer: only rank 0 prints
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert load_checkpoint(out / "model.pt").findings == ["effusion", "pneumonia"]


def np_images(n: int):
    import numpy as np

    return [np.random.default_rng(i).random((40, 40), dtype=np.float32) for i in range(n)]


def test_a_user_error_in_the_group_is_one_line_not_a_traceback(tmp_path: Path, capfd) -> None:
    assert main(["train", "--nproc", "2", "--data", str(tmp_path / "missing"), "--findings", "effusion",
                 "--out", str(tmp_path / "run"), "--epochs", "1"]) == 2
    err = capfd.readouterr().err  # file-descriptor level: the spawned processes' output too
    assert "chestxai: error:" in err and "Traceback" not in err
