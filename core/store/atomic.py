"""Crash-safe file replacement: readers see the old bytes or the new bytes, never a mix."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data` atomically (tmp file, rename) and, if durable, fsynced.

    Without `durable` a killed process still never leaves a torn file (the page cache keeps
    what was written); only a power failure can roll the file back to its previous version.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The tmp file must live in the same directory so os.replace is a same-filesystem rename.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    if durable:
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Without this the rename itself may be lost on power failure; some platforms refuse it.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
