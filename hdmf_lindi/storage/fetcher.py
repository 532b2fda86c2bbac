"""The one fetcher every byte goes through: url -> byte source, and batched range reads.

Callers hand the fetcher a whole batch of ``(url or source, start, stop)`` requests and get the
bytes back in the same order. :meth:`Fetcher.read_many` carries the batch out in three steps:

1. ranges of remote sources found in the on-disk chunk cache (if one is configured) are
   answered from it;
2. the rest is planned per source by :func:`~hdmf_lindi.storage.ranges.plan_reads`: nearby
   ranges of one URL merge into one request; a large batch is capped at about its size divided
   by ``max_workers`` per request (but no less than 1 MiB), so that one long transfer does not
   leave the other workers idle;
3. the merged remote requests run concurrently on a bounded thread pool
   (``RemoteOptions.max_workers``), local ones inline; each result is split back into the
   ranges it serves, and remote ranges are stored in the cache.

Retries and response validation happen in :class:`~hdmf_lindi.storage.sources.HttpSource`.
This is the only module that starts threads.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ChunkRefError
from .chunk_cache import DiskChunkCache
from .identity import SourceIdentity, checks_enabled
from .ranges import MergedRead, plan_reads
from .sources import ByteSource, HttpSource, LocalFileSource, RemoteOptions, is_url, make_session
from .stats import IOStats, record_cache

if TYPE_CHECKING:
    import requests

__all__ = ["Fetcher", "ReadRequest", "shared_pool", "shared_session"]

logger = logging.getLogger(__name__)

LOCAL_MAX_GAP_BYTES = 4096  # merge local reads separated by tar headers and padding
SPLIT_MIN_BYTES = 1 << 20  # 1 MiB: a large batch is spread over the workers in pieces no smaller

ReadRequest = tuple["str | ByteSource", int, int]
"""``(url, local path or source, start, stop)``, ``stop`` exclusive."""


_SESSIONS: dict[int, requests.Session] = {}
_POOLS: dict[int, ThreadPoolExecutor] = {}
_SESSIONS_LOCK = threading.Lock()


def shared_session(options: RemoteOptions) -> requests.Session:
    """The process-wide HTTP session for ``options``' connection-pool size.

    Every :class:`Fetcher` (one per open file) sends its requests through it, so opening one
    file after another keeps the connections (TCP and TLS handshakes) to a host alive: the next
    file's first request goes out on a warm connection. Sessions are never closed; idle
    connections are dropped by the server, and urllib3 replaces them.
    """
    key = max(10, options.max_workers)
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            session = _SESSIONS[key] = make_session(options)
        return session


def shared_pool(options: RemoteOptions) -> ThreadPoolExecutor:
    """The process-wide request thread pool for ``options.max_workers``.

    Every :class:`Fetcher` runs its remote requests on it, so a file opened after another
    reuses its threads instead of starting ``max_workers`` new ones (about 0.2 ms each, in the
    way of the first requests). Fetchers with the same ``max_workers`` share the bound: reads
    of several files at once from several threads never exceed it together. The pool is never
    shut down; its idle threads end with the interpreter.
    """
    key = options.max_workers
    with _SESSIONS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = ThreadPoolExecutor(max_workers=key, thread_name_prefix="hdmf-lindi-fetch")
        return pool


def _forget_sessions_after_fork() -> None:
    # The child must not share the parent's sockets, the parent's pools have no threads in the
    # child (work submitted there would never run), and the lock may have been held at fork.
    global _SESSIONS_LOCK
    _SESSIONS_LOCK = threading.Lock()
    _SESSIONS.clear()
    _POOLS.clear()


os.register_at_fork(after_in_child=_forget_sessions_after_fork)


@dataclass(frozen=True, slots=True)
class _Job:
    """One merged request and where its pieces go."""

    source: ByteSource
    read: MergedRead
    ranges: list[tuple[int, int]]
    """The ranges of the source's group, indexed by ``read.members``."""
    where: list[int]
    """Position in the batch of each range of ``ranges``."""


class _Progress:
    """Streaming progress of one request: posts each member range once its last byte is in.

    Members are handed on in the order their ranges end; each exactly once, even when a retry
    reports from byte 0 again.
    """

    __slots__ = ("_base", "_done", "_ends", "_events", "_job", "_order")

    def __init__(self, job: _Job, events: queue.SimpleQueue[tuple[_Job, Any, list[int]] | None]) -> None:
        self._job = job
        self._events = events
        self._order = sorted(job.read.members, key=lambda m: job.ranges[m][1])
        self._base = job.read.start
        self._ends = [job.ranges[m][1] - self._base for m in self._order]
        self._done = 0

    def __call__(self, data: Any, received: int) -> None:
        first = self._done
        last = first
        while last < len(self._ends) and self._ends[last] <= received:
            last += 1
        if last > first:
            self._done = last
            self._events.put((self._job, data, self._order[first:last]))


class Fetcher:
    """Resolve urls to byte sources and read batches of byte ranges.

    Parameters
    ----------
    base_dir
        Directory against which relative local paths are resolved first (the LINDI document's
        directory); if the file is not there, the current working directory is used, as lindi
        does.
    allow_local
        Whether local paths may be read at all. A document fetched over HTTP gets ``False``
        so that a remote file cannot make us read local files.
    options
        HTTP tuning: timeouts, retries, coalescing, concurrency and the on-disk cache.
    cache
        An on-disk cache of remote ranges to use; by default one is made when
        ``options.cache_dir`` is set.
    stats
        The counters to record into (see :mod:`~hdmf_lindi.storage.stats`); a new one by default.
    """

    def __init__(
        self,
        *,
        base_dir: str | None = None,
        allow_local: bool = True,
        options: RemoteOptions | None = None,
        cache: DiskChunkCache | None = None,
        stats: IOStats | None = None,
    ) -> None:
        self.stats = IOStats() if stats is None else stats
        """Requests, bytes and cache lookups of everything read through this fetcher."""
        self.base_dir = base_dir
        self.allow_local = allow_local
        self.options = options or RemoteOptions()
        if cache is None and self.options.cache_dir is not None:
            cache = DiskChunkCache(self.options.cache_dir, max_bytes=self.options.cache_max_bytes)
        self.cache = cache
        """The on-disk cache of remote ranges, or None."""
        self._session: requests.Session | None = None
        self._sources: dict[str, ByteSource] = {}
        self._expected: dict[str, SourceIdentity] = {}
        self._lock = threading.RLock()  # source() creates the session while holding it
        self._pid = os.getpid()

    def _check_fork(self) -> None:
        """After ``fork`` (multiprocessing's default on Linux), start afresh in the child.

        The child inherits the parent's HTTP sources (whose connections it must not share) and
        possibly a held lock; the shared session and pool are replaced by the at-fork hook.
        Local sources keep their descriptors (``pread`` needs no shared offset).
        """
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._lock = threading.RLock()
        self._session = None
        self._sources = {k: v for k, v in self._sources.items() if not isinstance(v, HttpSource)}

    @property
    def session(self) -> requests.Session:
        """The pooled HTTP session (process-wide, see :func:`~hdmf_lindi.storage.fetcher.shared_session`)."""
        self._check_fork()
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = shared_session(self.options)
        return self._session

    def _executor(self) -> ThreadPoolExecutor:
        self._check_fork()
        return shared_pool(self.options)

    def source(self, url: str) -> ByteSource:
        """Return the (cached) byte source for a url or local path.

        Raises
        ------
        ChunkRefError
            If ``url`` is a local path and local reads are not allowed.
        """
        self._check_fork()
        src = self._sources.get(url)
        if src is not None:
            return src
        with self._lock:
            src = self._sources.get(url)
            if src is None:
                src = self._make_source(url)
                self._sources[url] = src
        return src

    def expect(self, identities: Mapping[str, SourceIdentity]) -> None:
        """Check the sources named in ``identities`` against them on every read from now on.

        Keys are urls or paths as they appear in references. A source already open gets its
        expectation too; a local one already opened is not checked again. Nothing is checked
        when ``HDMF_LINDI_CHECK_SOURCES=0`` (see :mod:`~hdmf_lindi.storage.identity`).
        """
        if not checks_enabled():
            return
        with self._lock:
            self._expected.update(identities)
            for url, identity in identities.items():
                src = self._sources.get(url)
                if isinstance(src, HttpSource | LocalFileSource):
                    src.expected = identity

    def observed(self) -> dict[str, SourceIdentity]:
        """The identities of the sources read so far, as their opening or answers stated them."""
        with self._lock:
            out = {}
            for url, src in self._sources.items():
                identity = getattr(src, "identity", None)
                if isinstance(identity, SourceIdentity):
                    out[url] = identity
            return out

    def _make_source(self, url: str) -> ByteSource:
        expected = self._expected.get(url)
        if is_url(url):
            src = HttpSource(url, self.session, self.options, stats=self.stats)
            src.expected = expected
            return src
        return LocalFileSource(self.local_path(url), expected, stats=self.stats)

    def local_path(self, url: str) -> str:
        """The local file a reference names: ``file://`` stripped, a relative path looked up in
        ``base_dir`` first, then in the working directory.

        Raises
        ------
        ChunkRefError
            If local paths may not be read (a remote document).
        """
        if url.startswith("file://"):
            url = url[len("file://"):]
        if not self.allow_local:
            raise ChunkRefError(
                f"Refusing to read local path {url!r} referenced by a remote LINDI document. "
                "Open the document with allow_local_paths=True if you trust it.",
                url=url,
            )
        if not os.path.isabs(url) and self.base_dir is not None:
            candidate = os.path.join(self.base_dir, url)
            if os.path.exists(candidate) or not os.path.exists(url):
                return candidate
        return url

    def read(self, url: str, start: int, stop: int) -> bytes:
        """Read bytes ``[start, stop)`` of ``url`` (through the cache, if any).

        Raises
        ------
        ChunkRefError
            If the range lies outside the resource.
        RemoteReadError
            If an HTTP read fails.
        """
        return bytes(self.read_many([(url, start, stop)])[0])

    def read_many(
        self, requests_: Sequence[ReadRequest], on_ready: Callable[[list[int], list[bytes]], None] | None = None
    ) -> list[bytes]:
        """Read a batch of ranges; results come back in request order.

        Remote ranges are fetched concurrently, merged where they lie close together (see the
        module docstring). A result may be a ``memoryview`` slice of a merged read; it supports
        the buffer protocol like ``bytes``.

        ``on_ready(indices, out)``, if given, is called in the calling thread each time some
        results are in ``out`` (cache hits and local reads first, then each remote request as it
        completes), so that a caller can start decoding while the rest is still in transfer.

        Raises
        ------
        ChunkRefError
            If a range lies outside its resource.
        RemoteReadError
            If an HTTP read fails (the first failure in request order; the others are dropped).
        """
        out: list[bytes] = [b""] * len(requests_)
        groups: dict[int, tuple[ByteSource, list[int]]] = {}
        cache = self.cache
        hits = misses = 0
        for i, (target, start, stop) in enumerate(requests_):
            src = self.source(target) if isinstance(target, str) else target
            if cache is not None and isinstance(src, HttpSource) and stop > start:
                hit = cache.get(src.name, start, stop)
                if hit is not None:
                    out[i] = hit
                    hits += 1
                    continue
                misses += 1
            groups.setdefault(id(src), (src, []))[1].append(i)
        record_cache(self.stats, hits, misses, disk=True)
        if on_ready is not None:
            pending = {i for _, idx in groups.values() for i in idx}
            done = [i for i in range(len(requests_)) if i not in pending]
            if done:
                on_ready(done, out)
        remote: list[_Job] = []
        for src, indices in groups.values():
            ranges = [(requests_[i][1], requests_[i][2]) for i in indices]
            jobs = [_Job(src, merged, ranges, indices) for merged in self._plan(src, ranges)]
            if isinstance(src, HttpSource):
                remote.extend(jobs)
            else:
                for job in jobs:
                    self._split(job, src.read_range(job.read.start, job.read.stop), out)
                    if on_ready is not None:
                        on_ready([job.where[m] for m in job.read.members], out)
        self._run_concurrently(remote, out, on_ready)
        if cache is not None:
            for job in remote:
                for m in job.read.members:
                    start, stop = job.ranges[m]
                    cache.put(job.source.name, start, stop, out[job.where[m]])
        return out

    def _plan(self, src: ByteSource, ranges: list[tuple[int, int]]) -> list[MergedRead]:
        """Merge the ranges of one source into requests (see the module docstring)."""
        if not isinstance(src, HttpSource):
            return plan_reads(
                ranges, max_gap_bytes=LOCAL_MAX_GAP_BYTES, max_request_bytes=self.options.max_request_bytes
            )
        # One share of the batch per worker, plus the largest range so that shares do not spill
        # into one more request than there are workers.
        lengths = [stop - start for start, stop in ranges]
        share = -(-sum(lengths) // self.options.max_workers) + max(lengths)
        cap = min(self.options.max_request_bytes, max(SPLIT_MIN_BYTES, share))
        return plan_reads(ranges, max_gap_bytes=self.options.max_gap_bytes, max_request_bytes=cap)

    def _run_concurrently(
        self,
        jobs: list[_Job],
        out: list[bytes],
        on_ready: Callable[[list[int], list[bytes]], None] | None = None,
    ) -> None:
        """Run remote requests on the thread pool and split their answers into ``out``.

        With ``on_ready``, each answer is streamed: a range is handed on as soon as its last
        byte has arrived (after the answer's status and ``Content-Range`` were checked), so
        decoding overlaps the rest of the transfer. After all requests are done, the first
        failure in request order is raised (the others are dropped); ranges handed on before a
        failure are then never returned.
        """
        if len(jobs) == 1 and on_ready is None:  # no thread hop for a single request
            job = jobs[0]
            self._split(job, job.source.read_range(job.read.start, job.read.stop), out)
            return
        events: queue.SimpleQueue[tuple[_Job, Any, list[int]] | None] = queue.SimpleQueue()

        def fetch(job: _Job) -> None:
            try:
                progress = _Progress(job, events)
                if on_ready is None:
                    data = job.source.read_range(job.read.start, job.read.stop)
                else:
                    data = job.source.read_range(job.read.start, job.read.stop, progress)  # type: ignore[call-arg]
                progress(data, len(data))  # what was not streamed (or all, without on_ready)
            finally:
                events.put(None)  # this request is over

        pool = self._executor()
        futures = [pool.submit(fetch, job) for job in jobs]
        try:
            for _ in jobs:
                while (event := events.get()) is not None:
                    job, data, members = event
                    self._split(job, data, out, members)
                    if on_ready is not None:
                        on_ready([job.where[m] for m in members], out)
                if any(f.done() and f.exception() is not None for f in futures):
                    break  # raised below, in request order
            for future in futures:
                if future.done() and future.exception() is not None:
                    raise future.exception()  # type: ignore[misc]
        finally:
            for future in futures:
                future.cancel()  # after a failure, drop what has not started

    @staticmethod
    def _split(job: _Job, data: bytes, out: list[bytes], members: Sequence[int] | None = None) -> None:
        """Put the slice of ``data`` each member range (all, or ``members``) asked for in ``out``."""
        base = job.read.start
        if members is None:
            members = job.read.members
        if len(members) == 1 and job.ranges[members[0]] == (base, job.read.stop) and type(data) is bytes:
            out[job.where[members[0]]] = data  # the common single range: plain bytes
            return
        view = memoryview(data)
        for m in members:
            start, stop = job.ranges[m]
            out[job.where[m]] = view[start - base:stop - base]  # type: ignore[call-overload]

    def close(self) -> None:
        """Close every open source; the shared session and request pool stay open."""
        for src in self._sources.values():
            src.close()
        self._sources.clear()
        self._session = None
