"""The one way this package writes a file that others read: a temporary file in the same folder, then a rename.

``os.replace`` within one folder is atomic on POSIX and Windows, so a reader (another process, a later run, a crash
recovery) sees the old file or the new one, never half of one, and a failed write leaves the old file and no
temporary behind. With ``durable=True`` the data are fsynced before the rename and the folder after it, so the new
file also survives a power cut (catalogue indexes, checkpoints: what a committed database row or hours of training
depend on); caches and reports skip that cost.

Lives in the lowest layer so every layer can use it (data -> models -> ... -> cli).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def fsync_path(path: str | Path) -> None:
    """Flush a file's (or a folder's) data to disk; a folder that cannot be opened (some platforms) is skipped."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if Path(path).is_dir():
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not Path(path).is_dir():
            raise
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, so writers that pick the format by it still work); when
    the block succeeds it replaces ``path``, when it raises ``path`` is untouched and the temporary is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if durable:
            fsync_path(tmp)
        os.replace(tmp, path)
        if durable:
            fsync_path(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(data: bytes, path: str | Path, durable: bool = False) -> Path:
    """``path`` holds ``data``, written atomically (see :func:`atomic_path`)."""
    with atomic_path(path, durable) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(text: str, path: str | Path, durable: bool = False) -> Path:
    """``path`` holds ``text`` (UTF-8), written atomically (see :func:`atomic_path`)."""
    return atomic_write_bytes(text.encode("utf-8"), path, durable)


__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "fsync_path"]
