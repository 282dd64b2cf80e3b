"""Durable file writes (a file is either its old content or its new content, never half of it),
and locks shared by the processes of one host."""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o600) -> Path:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    The bytes go to a temporary file in the same directory, which is fsynced, renamed over
    ``path`` and then the directory is fsynced, so a crash leaves the old or the new file and the
    rename itself survives a power loss. The directory must exist. Returns ``path``."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
    return path


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a rename or a new entry in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class HostLock:
    """A lock held by one thread of one process of this host at a time: a thread lock, then an
    exclusive ``flock`` on `path` (the worker processes of one node share a directory of them).
    The file is opened once and never removed (removing a locked file would let a second holder in
    through a new file). ``path=None``: the thread lock alone (a single process)."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self._thread = threading.Lock()
        self.path = None if path is None else Path(path)
        self._fd: int | None = None
        self._owner: int | None = None

    def held_fd(self) -> int | None:
        """The lock file's descriptor if the calling thread holds the lock, else None (the holder
        may keep a small state in the file: a counter)."""
        return self._fd if self._owner == threading.get_ident() else None

    def __enter__(self) -> "HostLock":
        self._thread.acquire()
        if self.path is not None:
            try:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread.release()
                raise
        self._owner = threading.get_ident()
        return self

    def __exit__(self, *exc: object) -> None:
        self._owner = None
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()
