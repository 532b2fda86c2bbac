"""Files nobody closed: flushed when dropped or at interpreter exit, as h5py does.

A writable :class:`~hdmf_lindi.File` whose nodes are all garbage-collected, or that is still open
when the interpreter exits, is flushed and closed here. If that flush fails, a
:class:`~hdmf_lindi.errors.LindiWarning` names the file and the error: its unflushed changes are
lost, and the file keeps its last flushed state. Either way the container's hidden temporary
files (``.x.lindi.tar.<random>.tmp``, ``.x.lindi.d.<random>``) are removed.

The hook holds the container only (never a node), so it does not keep the file alive. It does
nothing in a forked child: the parent owns the file and will close it.
"""

from __future__ import annotations

import logging
import os
import warnings
import weakref

from ..errors import LindiWarning
from ..storage.containers import Container

__all__ = ["close_when_dropped"]

logger = logging.getLogger(__name__)


def close_when_dropped(owner: object, container: Container) -> weakref.finalize:
    """Close ``container`` (flushing it if writable) when ``owner`` is collected or at exit.

    Returns
    -------
    weakref.finalize
        The hook; ``detach()`` it once the container is closed the ordinary way.
    """
    return weakref.finalize(owner, _close_unclosed, container, os.getpid())


def _close_unclosed(container: Container, pid: int) -> None:
    """Flush and close a container nobody closed; warn if its changes could not be saved."""
    if container.closed or os.getpid() != pid:
        return
    writable = not container.read_only
    try:
        if writable:
            logger.info("Flushing %s, which was not closed", container.location)
        container.close()  # releases (and removes temporary files) even when the flush fails
    except Exception as exc:  # noqa: BLE001 - a finalizer must not raise; the warning reports it
        if not writable:
            logger.debug("Releasing %s failed: %s", container.location, exc)
            return
        warnings.warn(
            f"{container.location} was not closed, and flushing it when it was dropped (or at "
            f"interpreter exit) failed: {type(exc).__name__}: {exc}. Its unflushed changes are "
            "lost; the file keeps its last flushed state. Close files explicitly (or use a "
            "'with' block) to see such errors where they happen.",
            LindiWarning,
            stacklevel=1,
        )
