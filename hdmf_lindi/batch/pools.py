"""The executor :func:`~hdmf_lindi.batch.read_table` uses when none is given, and a process pool that starts fast.

Reading a table from a LINDI file waits on the network and holds no lock for long, so threads
are cheap and enough. Indexing an HDF5 file on the fly is different: every libhdf5 call of the
walk, network waits included, runs under h5py's global lock, so threads take turns and only
processes overlap. A process pool costs its start, though (about 1 s on an idle 2-core
machine, up to 3 s under load, mostly once per Python process: see :func:`process_pool`),
against 0.07 s (a small file read whole in 2 requests) to 0.6 s (a 20 MB file, 10 requests)
per file of serialised indexing at 50 ms per request. Hence :func:`default_kind`: processes
when at least :data:`MIN_PROCESS_SOURCES` sources need indexing on the fly, threads otherwise.
Measured on 16 served files at 50 ms: 20 MB files 8.7-9.5 s in 8 threads, 3.2-3.8 s in
processes (the first call included); 0.9 MB files 1.1 s in threads, 3.2 s in processes on
the first call and 1.0 s on later calls. The worst case of choosing processes is the bounded
start; that of choosing threads grows with every file.

A worker started by ``spawn`` imports numpy, h5py, pandas and this package again (~0.75 s of CPU
each: more than the whole read of a few files). :func:`process_pool` therefore forks its
workers from the ``forkserver``, which imports those modules once (:data:`PRELOAD`) and then
forks each worker ready to run; where there is no ``forkserver`` (Windows), it spawns.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Literal

from ..storage.containers import is_hdf5
from ..tree.dandi_open import DandiOptions, is_dandi_name

__all__ = ["MIN_PROCESS_SOURCES", "PRELOAD", "ExecutorKind", "default_kind", "needs_indexing", "process_pool"]

logger = logging.getLogger(__name__)

ExecutorKind = Literal["threads", "processes"]
"""What :func:`default_kind` chooses."""

MIN_PROCESS_SOURCES = 4
"""How many sources to index on the fly make :func:`default_kind` choose processes."""

PRELOAD = ("numpy", "h5py", "pandas", "hdmf_lindi.hdf5", "hdmf_lindi.batch.table")
"""Modules the ``forkserver`` imports once, before it forks any worker."""

_preload_set = False


def needs_indexing(source: str, dandi: DandiOptions | None = None) -> bool:
    """Whether reading ``source`` means indexing an HDF5 file on the fly.

    True for an HDF5 file (a local path sniffed, a URL by its suffix) and for a ``dandi://``
    name when no index location is configured (``dandi``, default
    :meth:`DandiOptions.from_env <hdmf_lindi.tree.dandi_open.DandiOptions.from_env>`); an
    index cached on disk by an earlier open is not looked for (that costs an API request).
    """
    if is_dandi_name(source):
        return not (dandi or DandiOptions.from_env()).index_locations
    return is_hdf5(source)


def default_kind(sources: Sequence[str], dandi: DandiOptions | None = None) -> ExecutorKind:
    """``processes`` when :data:`MIN_PROCESS_SOURCES` or more ``sources`` need indexing on the
    fly, else ``threads``.

    Also ``threads`` inside a daemonic process (a ``multiprocessing.Pool`` or ``dask``
    worker), which may not start processes of its own.
    """
    if multiprocessing.current_process().daemon:
        return "threads"
    on_the_fly = sum(needs_indexing(s, dandi) for s in sources)
    return "processes" if on_the_fly >= MIN_PROCESS_SOURCES else "threads"


def _context() -> BaseContext:
    global _preload_set
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    if not _preload_set:
        # Takes effect when the forkserver starts; one already running is used as it is.
        context.set_forkserver_preload(list(PRELOAD))
        _preload_set = True
    return context


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes forked from the preloaded ``forkserver`` (else spawned).

    The first pool of a process starts the ``forkserver`` (one import of :data:`PRELOAD`,
    about a second); later pools only fork. The caller shuts the pool down (``with``).
    """
    context = _context()
    logger.debug("starting %d worker processes (%s)", workers, context.get_start_method())
    return ProcessPoolExecutor(workers, mp_context=context)
