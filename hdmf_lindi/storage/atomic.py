"""Atomic replacement of local files: write beside the target, then ``os.replace``."""

from __future__ import annotations

import os
import tempfile

__all__ = ["atomic_write", "default_file_mode", "temp_path_beside"]


def default_file_mode(path: str, *, directory: bool = False) -> int:
    """Return the permission bits for a replacement of ``path``: its current mode, else the umask's."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return (0o777 if directory else 0o666) & ~umask


def temp_path_beside(path: str, suffix: str = ".tmp") -> str:
    """Return an unused temporary path in the directory of ``path`` (same filesystem)."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=suffix, dir=directory)
    os.close(fd)
    os.unlink(tmp)
    return tmp


def atomic_write(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see either the old or the new content.

    On any failure the temporary file is removed, the old content is untouched, and the
    exception propagates.
    """
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        os.chmod(tmp, default_file_mode(path))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
