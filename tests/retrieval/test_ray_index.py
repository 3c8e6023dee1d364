"""Ray indexing: the same catalogue as the local engine, and a crashed run resumes without duplicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import json  # noqa: E402

from chestxai.cli import main  # noqa: E402
from chestxai.data.datasets import load_dataset  # noqa: E402
from chestxai.retrieval import ray_index  # noqa: E402
from chestxai.retrieval.api import load_embedder  # noqa: E402
from chestxai.retrieval.catalogue import Catalogue  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _by_hash(root: Path) -> dict[str, tuple[dict, str, np.ndarray]]:
    with Catalogue(root, create=False) as cat:
        index = cat.index("cnn")
        return {c.content_hash: (c.labels, c.image, index.reconstruct(c.id)) for c in cat.cases()}


def _run_ray(root: Path, data, checkpoint: Path, workers: int = 2, **kw) -> dict:
    embedder = load_embedder("cnn", str(checkpoint))
    return ray_index.index_dataset_ray(root, data, embedder, ("cnn", str(checkpoint), None), workers=workers,
                                       batch_size=8, progress=False, **kw)


def _cli_index(root: Path, data: Path, checkpoint: Path, capsys, *engine: str) -> dict:
    args = ["index", "--model", str(checkpoint), "--catalogue", str(root), "--data", str(data), *engine]
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_ray_gives_the_local_catalogue(local_ray, synthetic_dir: Path, tiny_checkpoint: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    local = _cli_index(tmp_path / "local", synthetic_dir, tiny_checkpoint, capsys)
    remote = _cli_index(tmp_path / "ray", synthetic_dir, tiny_checkpoint, capsys, "--engine", "ray", "--workers", "2",
                        "--batch-size", "8", "--no-progress")
    assert (remote["added"], remote["cases"]) == (local["added"], local["cases"]) and remote["cases"] > 0
    assert 0 <= remote["startup_seconds"] <= remote["seconds"] and remote["embedding_images_per_s"] > 0
    a, b = _by_hash(tmp_path / "local"), _by_hash(tmp_path / "ray")
    assert a.keys() == b.keys()
    for h in a:
        assert a[h][:2] == b[h][:2]
        np.testing.assert_allclose(a[h][2], b[h][2], atol=1e-5)
    with Catalogue(tmp_path / "local") as x, Catalogue(tmp_path / "ray") as y:
        assert x.embedders() == y.embedders()  # same model hash, dim, metric, index type
    again = _cli_index(tmp_path / "ray", synthetic_dir, tiny_checkpoint, capsys, "--engine", "ray", "--workers", "1",
                       "--no-progress")
    assert (again["added"], again["skipped"], again["cases"]) == (0, remote["cases"], remote["cases"])
    assert "startup_seconds" not in again  # nothing was embedded: no rate to report


def test_crashed_ray_run_resumes_without_duplicates(local_ray, synthetic_dir: Path, tiny_checkpoint: Path,
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_dataset(synthetic_dir)
    real_add, calls = Catalogue.add_vectors, []

    def add_then_crash(self, items, vectors, embedder, index_type=None, expected=None):
        if calls:
            raise RuntimeError("driver killed")
        calls.append(len(items))
        return real_add(self, items, vectors, embedder, index_type, expected)

    monkeypatch.setattr(Catalogue, "add_vectors", add_then_crash)
    with pytest.raises(RuntimeError, match="driver killed"):
        _run_ray(tmp_path / "cat", data, tiny_checkpoint, workers=1, commit_size=8)
    monkeypatch.setattr(Catalogue, "add_vectors", real_add)
    with Catalogue(tmp_path / "cat") as cat:
        assert len(cat) == calls[0] == 8
    done = _run_ray(tmp_path / "cat", data, tiny_checkpoint, workers=1, commit_size=8)
    assert done["skipped"] == 8 and done["added"] == done["cases"] - 8
    with Catalogue(tmp_path / "cat") as cat:
        hashes = [c.content_hash for c in cat.cases()]
        assert len(hashes) == len(set(hashes)) == cat.index("cnn").ntotal == cat.embedders()[0]["vectors"]
    assert len(hashes) == len(data)
