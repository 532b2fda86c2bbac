"""Writers exclude each other: an exclusive OS lock on a sidecar file, held while a file is open for writing.

Opening a LINDI file for writing (modes ``r+ a w w- x``) takes an exclusive ``flock`` on a
sidecar beside it, ``.<name>.lock`` (``.x.lindi.tar.lock`` for ``x.lindi.tar``, also for a
``.lindi.d`` directory). A sidecar rather than the file itself, because writers replace files
and directories by rename (``os.replace``): a lock on the old inode would be lost with it. The
lock is held until the file is closed, and the OS drops it when the process dies, so a crashed
writer never wedges the file. Readers take no lock and are never blocked.

A second writer (another process, or another open of the same file in this process) gets
:class:`~hdmf_lindi.errors.FileLockedError` naming the holder (``pid@host``, which the holder
writes into the sidecar), or waits up to ``lock_timeout`` seconds for it to close.

The sidecar is removed on close. That is safe against the unlink/lock race (a waiter that
locked the old, unlinked inode) because a writer that got the lock checks that the sidecar's
path still names the inode it locked, and starts again otherwise. A sidecar left by a crashed
writer is unlocked and harmless: the next writer takes it over. lindi never looks at it, and a
``.lindi.d`` reader never sees it (it is outside the directory).

``locking`` (per open) and the environment variable ``HDMF_LINDI_USE_FILE_LOCKING`` (as h5py's
``HDF5_USE_FILE_LOCKING``) choose: True / ``TRUE`` (the default) locks and fails where locks are
not supported; ``"best-effort"`` / ``BEST_EFFORT`` locks where the file system supports it and
goes on without a lock where it does not; False / ``FALSE`` takes no lock. On network file
systems ``flock`` may be unsupported, emulated per client (NFS maps it to POSIX byte-range
locks through the NFS lock manager, which must be running) or silently local to one machine
(some SMB and FUSE mounts): there, pass ``locking=False`` or ``"best-effort"`` and make sure
only one writer opens a file at a time; the commit check at flush (see
:class:`~hdmf_lindi.errors.ConcurrentModificationError`) still refuses to overwrite a file
another writer replaced.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import time
from typing import Literal, TypeAlias

from ..errors import FileLockedError, ModeError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_ENV", "Locking", "WriteLock", "lock_path", "resolve_locking"]

logger = logging.getLogger(__name__)

LOCK_ENV = "HDMF_LINDI_USE_FILE_LOCKING"
"""Environment variable read when ``locking`` is None: ``TRUE``, ``FALSE`` or ``BEST_EFFORT``."""
POLL_S = 0.05
"""How often a writer waiting for the lock tries again, in seconds."""

Locking: TypeAlias = bool | Literal["best-effort"] | None
"""True, False, ``"best-effort"``, or None for the environment's choice (default True)."""

_UNSUPPORTED = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}


def resolve_locking(locking: Locking) -> bool | Literal["best-effort"]:
    """Return the effective choice: ``locking`` itself, or the environment's when it is None.

    Raises
    ------
    ModeError
        If ``locking`` or the environment variable has a value that means none of the choices.
    """
    if locking is None:
        value = os.environ.get(LOCK_ENV, "TRUE").strip().upper().replace("-", "_")
        choices: dict[str, bool | Literal["best-effort"]] = {
            "TRUE": True, "1": True, "YES": True, "ON": True,
            "FALSE": False, "0": False, "NO": False, "OFF": False,
            "BEST_EFFORT": "best-effort",
        }
        if value not in choices:
            raise ModeError(f"{LOCK_ENV}={os.environ[LOCK_ENV]!r}: use TRUE, FALSE or BEST_EFFORT.")
        return choices[value]
    if locking is True or locking is False or locking == "best-effort":
        return locking
    raise ModeError(f"locking={locking!r}: use True, False, 'best-effort' or None.")


def lock_path(location: str) -> str:
    """The sidecar lock file of ``location``: ``.<name>.lock`` in the same directory."""
    path = os.path.abspath(location.rstrip("/") or location)
    return os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".lock")


def _holder_of(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(200).strip()
    except OSError:
        return None
    return text or None


class WriteLock:
    """The exclusive lock of one writer on one LINDI file (see the module docstring).

    Use :meth:`acquire` to take it; :meth:`release` (idempotent) to give it back.
    """

    def __init__(self, location: str) -> None:
        self.location = location
        self.path = lock_path(location)
        """The sidecar file."""
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    @classmethod
    def acquire(
        cls, location: str, *, locking: Locking = None, timeout: float = 0.0
    ) -> WriteLock | None:
        """Lock ``location`` for writing; return the lock, or None when locking is off.

        Parameters
        ----------
        location
            The LINDI file (or ``.lindi.d`` directory) to be written.
        locking
            See :data:`Locking`.
        timeout
            Seconds to wait for another writer to close the file; 0 (the default) fails at once.

        Raises
        ------
        FileLockedError
            If another writer holds the lock (after waiting ``timeout`` seconds).
        OSError
            If the sidecar cannot be created, or (with ``locking=True``) the file system does
            not support locks.
        """
        choice = resolve_locking(locking)
        if choice is False or fcntl is None:
            return None
        if timeout < 0:
            raise ModeError(f"lock_timeout must not be negative, not {timeout}.")
        lock = cls(location)
        try:
            lock._take(timeout)
        except FileLockedError:
            raise
        except (FileNotFoundError, PermissionError) as exc:
            # No directory, or one this process may not create files in: the open itself
            # fails (or, for a tar updated in place, cannot race a writer that could lock).
            logger.warning("no lock on %s: cannot create %s (%s)", location, lock.path, exc)
            return None
        except OSError as exc:
            if exc.errno == errno.EROFS or (choice == "best-effort" and exc.errno in _UNSUPPORTED):
                logger.warning("no lock on %s: the file system does not support it (%s)", location, exc)
                return None
            raise
        return lock

    def __del__(self) -> None:
        # A container dropped without close() must not keep other writers out until exit.
        with contextlib.suppress(OSError, TypeError, AttributeError):  # also at interpreter exit
            self.release()

    def _take(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    holder = _holder_of(self.path)
                    waited = f" after waiting {timeout:g} s" if timeout > 0 else ""
                    raise FileLockedError(
                        f"Cannot open {self.location} for writing: another writer has it open "
                        f"({holder or 'holder unknown'}; lock file {self.path}){waited}. Close it "
                        "there first, pass lock_timeout= to wait, or open it read-only (mode 'r').",
                        path=self.location,
                        holder=holder,
                    ) from None
                time.sleep(POLL_S)
                continue
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if not same:  # the holder removed the sidecar as we locked it: start again
                os.close(fd)
                continue
            self._fd = fd
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}@{socket.gethostname()}\n".encode(), 0)
            return

    def release(self) -> None:
        """Remove the sidecar and release the lock (in that order; see the module docstring)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)  # closing the only descriptor releases the flock
