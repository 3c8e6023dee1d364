"""The one atomic-write helper: readers see the old file or the new one, never half, and no temporary is left."""

from __future__ import annotations

from pathlib import Path

import pytest

from chestxai.data.atomic import atomic_path, atomic_write_bytes, atomic_write_text


def test_write_replaces_the_file_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "metrics.json"
    atomic_write_text('{"a": 1}', target)
    atomic_write_bytes(b'{"a": 2}', target, durable=True)
    assert target.read_text() == '{"a": 2}'
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.pt"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target, durable=True) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_the_temporary_sits_beside_the_target_with_its_suffix(tmp_path: Path) -> None:
    # writers that choose the format by the suffix (cv2.imwrite, faiss) must see the target's suffix
    with atomic_path(tmp_path / "thumb.png") as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png" and tmp.name != "thumb.png"
        tmp.write_bytes(b"png")
    assert (tmp_path / "thumb.png").read_bytes() == b"png"
