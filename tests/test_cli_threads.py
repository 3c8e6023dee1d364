"""Thread counts of the one-image commands, and the one-line answer to a missing optional extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from chestxai.cli import apply_threads, main


def test_one_image_commands_default_to_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(2)
    assert apply_threads("predict", None) == 1 and torch.get_num_threads() == 1
    assert apply_threads("check-scope", 2) == 2 and torch.get_num_threads() == 2
    torch.set_num_threads(2)
    assert apply_threads("train", None) is None and torch.get_num_threads() == 2  # training keeps torch's choice


def test_omp_num_threads_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    torch.set_num_threads(2)
    assert apply_threads("predict", None) is None and torch.get_num_threads() == 2
    assert apply_threads("predict", 1) == 1  # the option wins over the environment


def test_bad_thread_count_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--threads", "0", "x.png"]) == 2
    assert capsys.readouterr().err.strip() == "chestxai: error: --threads must be >= 1"


def test_ray_engine_without_ray_says_how_to_install_it(synthetic_dir: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where the extra is not installed
    code = main(["index", "--engine", "ray", "--catalogue", str(tmp_path / "cat"), "--data", str(synthetic_dir),
                 "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1
    assert err == "chestxai: error: --engine ray needs Ray, which is not installed here: pip install 'chestxai[ray]'"
