"""``chestxai serve``: prints the address, serves the model and catalogue given, degrades without a sample."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_helpers import LOCAL, N_CASES

from chestxai.cli import main

SAMPLE = "chestxai.retrieval.sample"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Capture the app ``serve`` would run instead of blocking in uvicorn."""
    seen: dict = {}

    def fake_run(app, host, port):
        seen.update(app=app, host=host, port=port)

    monkeypatch.setattr("chestxai.service.app.run_server", fake_run)
    return seen


def _health(app) -> dict:
    with TestClient(app, client=LOCAL) as client:
        return client.get("/api/v1/health").json()


def test_serve_prints_the_address_and_serves_model_and_catalogue(
    served: dict, service_checkpoint: Path, catalogue: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main(["serve", "--model", str(service_checkpoint), "--catalogue", str(catalogue), "--port", "8123"])
    assert code == 0
    assert "http://127.0.0.1:8123" in capsys.readouterr().out
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    health = _health(served["app"])
    assert health["catalogue_size"] == N_CASES and health["model"] == str(service_checkpoint)


def test_serve_without_a_sample_module_serves_without_similar_cases(
    served: dict, service_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, SAMPLE, None)  # as if chestxai.retrieval.sample did not exist
    assert main(["serve", "--model", str(service_checkpoint), "--host", "::1"]) == 0
    out, err = capsys.readouterr()
    assert "http://[::1]:8000" in out and "serving without similar cases" in err
    health = _health(served["app"])
    assert health["catalogue_size"] == 0 and health["catalogue_loaded"] is False


def test_serve_when_the_sample_catalogue_fails(
    served: dict, service_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def broken(model, log=None):
        raise RuntimeError("sample images missing")

    monkeypatch.setitem(sys.modules, SAMPLE, types.SimpleNamespace(default_catalogue=broken))
    assert main(["serve", "--model", str(service_checkpoint)]) == 0
    assert "sample images missing" in capsys.readouterr().err
    assert _health(served["app"])["catalogue_loaded"] is False


def test_serve_uses_the_sample_catalogue_when_none_is_given(
    served: dict, service_checkpoint: Path, catalogue: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list = []

    def sample(model, log=None):
        asked.append(model)
        return catalogue

    monkeypatch.setitem(sys.modules, SAMPLE, types.SimpleNamespace(default_catalogue=sample))
    assert main(["serve", "--model", str(service_checkpoint)]) == 0
    assert asked == [str(service_checkpoint)] and _health(served["app"])["catalogue_size"] == N_CASES


def test_serve_without_a_default_model_is_one_line(
    served: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr("chestxai.models.zoo.shipped_models", lambda: {})
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chestxai: error:") and "--model" in err and "\n" not in err
    assert not served


def test_serve_with_a_missing_catalogue_is_one_line(
    served: dict, service_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["serve", "--model", str(service_checkpoint), "--catalogue", str(tmp_path / "none")]) == 2
    assert "not a catalogue" in capsys.readouterr().err and not served
