"""I/O counters users can see: requests, bytes fetched and decoded, cache hits, retries, per source.

Every open file has one :class:`IOStats` (``File.stats``, ``LindiIO.stats``, ``Container.stats``:
its fetcher's). The byte sources, the fetcher's on-disk cache lookups and the array engine's
decoded-chunk cache and decoder record into it as they work. :func:`hdmf_lindi.stats` opens a *scope*: an
``IOStats`` that, while the ``with`` block runs, also receives every event of every file in the
process (all threads), so one block of code can be measured whatever it opens::

    with hdmf_lindi.stats() as s:
        nwbfile = NWBLindiIO(url).read()
    print(s.requests, s.bytes_fetched)

Counters are updated under a lock (requests run on a thread pool). They count what happened
here: a request is one HTTP GET (each retry is another), or one ``pread`` of a local file; bytes
fetched are the bytes received; bytes decoded are the bytes chunks decode to.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["IOStats", "SourceStats", "StatsSnapshot", "record_cache", "record_decode", "record_read", "stats"]


@dataclass(frozen=True, slots=True)
class SourceStats:
    """What was read from one source (a URL or a local file)."""

    requests: int = 0
    """HTTP GETs sent (retries included), or local reads made."""
    bytes_fetched: int = 0
    """Bytes received."""
    retries: int = 0
    """Requests that repeated a failed one (HTTP only)."""


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """The counters of an :class:`IOStats` at one moment (a value; it never changes)."""

    requests: int = 0
    """Requests made, all sources together (HTTP GETs with retries, local reads)."""
    bytes_fetched: int = 0
    """Bytes received from all sources."""
    retries: int = 0
    """HTTP requests that repeated a failed one."""
    chunks_decoded: int = 0
    """Chunks decoded (decompressed and filtered)."""
    bytes_decoded: int = 0
    """Bytes those chunks decoded to."""
    cache_hits: int = 0
    """Chunk reads answered by a file's decoded-chunk cache."""
    cache_misses: int = 0
    """Chunk reads the decoded-chunk cache could not answer."""
    disk_cache_hits: int = 0
    """Remote ranges answered by the on-disk cache (``RemoteOptions.cache_dir``)."""
    disk_cache_misses: int = 0
    """Remote ranges the on-disk cache could not answer."""
    per_source: Mapping[str, SourceStats] = field(default_factory=dict)
    """URL or path -> what was read from it."""

    def describe(self) -> str:
        """A short human summary: totals on the first line, then one line per source."""
        lines = [
            f"{self.requests} requests, {self.bytes_fetched:,} bytes fetched"
            + (f", {self.retries} retries" if self.retries else "")
            + f"; {self.chunks_decoded} chunks decoded to {self.bytes_decoded:,} bytes; "
            f"chunk cache {self.cache_hits} hits / {self.cache_misses} misses"
            + (
                f"; disk cache {self.disk_cache_hits} hits / {self.disk_cache_misses} misses"
                if self.disk_cache_hits or self.disk_cache_misses
                else ""
            )
        ]
        for name in sorted(self.per_source):
            s = self.per_source[name]
            retries = f", {s.retries} retries" if s.retries else ""
            lines.append(f"  {name}: {s.requests} requests, {s.bytes_fetched:,} bytes{retries}")
        return "\n".join(lines)


_COUNTERS = (
    "requests", "bytes_fetched", "retries", "chunks_decoded", "bytes_decoded",
    "cache_hits", "cache_misses", "disk_cache_hits", "disk_cache_misses",
)


_DECODED, _CACHE, _DISK_CACHE = 3, 5, 7  # positions of the pairs record_decode/record_cache add to


def _counter(name: str, doc: str) -> property:
    index = _COUNTERS.index(name)

    def get(self: IOStats) -> int:
        return self._totals[index]

    return property(get, doc=doc)


class IOStats:
    """Thread-safe, growing I/O counters of one file or one :func:`stats` scope.

    Read the totals as attributes (``s.requests``, ``s.bytes_fetched`` ...), or take a
    :meth:`snapshot` to keep or compare (``after.requests - before.requests``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals = [0] * len(_COUNTERS)  # in _COUNTERS order: a list is the cheapest to bump
        self._sources: dict[str, list[int]] = {}  # name -> [requests, bytes, retries]

    requests = _counter("requests", "Requests made, all sources together (HTTP GETs with retries, local reads).")
    bytes_fetched = _counter("bytes_fetched", "Bytes received from all sources.")
    retries = _counter("retries", "HTTP requests that repeated a failed one.")
    chunks_decoded = _counter("chunks_decoded", "Chunks decoded (decompressed and filtered).")
    bytes_decoded = _counter("bytes_decoded", "Bytes those chunks decoded to.")
    cache_hits = _counter("cache_hits", "Chunk reads answered by a file's decoded-chunk cache.")
    cache_misses = _counter("cache_misses", "Chunk reads the decoded-chunk cache could not answer.")
    disk_cache_hits = _counter("disk_cache_hits", "Remote ranges answered by the on-disk cache.")
    disk_cache_misses = _counter("disk_cache_misses", "Remote ranges the on-disk cache could not answer.")

    @property
    def per_source(self) -> dict[str, SourceStats]:
        """URL or path -> what was read from it, so far."""
        return dict(self.snapshot().per_source)

    def snapshot(self) -> StatsSnapshot:
        """The counters now."""
        with self._lock:
            sources = {k: SourceStats(*v) for k, v in self._sources.items()}
            return StatsSnapshot(**dict(zip(_COUNTERS, self._totals, strict=True)), per_source=sources)

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._totals = [0] * len(_COUNTERS)
            self._sources = {}

    def describe(self) -> str:
        """See :meth:`StatsSnapshot.describe`."""
        return self.snapshot().describe()

    def __repr__(self) -> str:
        s = self.snapshot()
        return (
            f"<IOStats {s.requests} requests, {s.bytes_fetched} bytes fetched, {s.retries} retries, "
            f"{s.chunks_decoded} chunks decoded ({s.bytes_decoded} bytes), cache "
            f"{s.cache_hits}/{s.cache_hits + s.cache_misses} hits>"
        )

    # ------------------------------------------------------------------ recording
    def _read(self, source: str, requests: int, nbytes: int, retries: int) -> None:
        with self._lock:
            totals = self._totals
            totals[0] += requests
            totals[1] += nbytes
            totals[2] += retries
            counts = self._sources.get(source)
            if counts is None:
                counts = self._sources[source] = [0, 0, 0]
            counts[0] += requests
            counts[1] += nbytes
            counts[2] += retries

    def _add_pair(self, index: int, first: int, second: int) -> None:
        # acquire/release rather than "with": this runs on every chunk read (a cache hit is ~1 µs)
        lock = self._lock
        lock.acquire()
        try:
            totals = self._totals
            totals[index] += first
            totals[index + 1] += second
        finally:
            lock.release()


_scopes: tuple[IOStats, ...] = ()
"""The open :func:`stats` scopes; replaced (never mutated) under ``_scopes_lock``."""
_scopes_lock = threading.Lock()


def record_read(owner: IOStats | None, source: str, nbytes: int, *, requests: int = 1, retries: int = 0) -> None:
    """Count a read of ``source`` (``requests`` requests, ``nbytes`` received) for ``owner`` and
    every open scope. ``owner`` is the file's stats, or None for a source no file owns."""
    if owner is not None:
        owner._read(source, requests, nbytes, retries)
    for scope in _scopes:
        scope._read(source, requests, nbytes, retries)


def record_decode(owner: IOStats | None, nbytes: int, chunks: int = 1) -> None:
    """Count ``chunks`` decoded chunks of ``nbytes`` bytes in all."""
    if owner is not None:
        owner._add_pair(_DECODED, chunks, nbytes)
    for scope in _scopes:
        scope._add_pair(_DECODED, chunks, nbytes)


def record_cache(owner: IOStats | None, hits: int, misses: int, *, disk: bool = False) -> None:
    """Count lookups of the decoded-chunk cache (or, with ``disk``, of the on-disk range cache)."""
    index = _DISK_CACHE if disk else _CACHE
    if owner is not None and (hits or misses):
        owner._add_pair(index, hits, misses)
    for scope in _scopes:
        scope._add_pair(index, hits, misses)


@contextmanager
def stats() -> Iterator[IOStats]:
    """Count the I/O of every file in the process (all threads) while the block runs.

    Scopes nest: an inner block's counts are also in the outer one's. After the block the
    counters keep their final values.

    Yields
    ------
    IOStats
        The scope's counters, live while the block runs.
    """
    global _scopes
    scope = IOStats()
    with _scopes_lock:
        _scopes = (*_scopes, scope)
    try:
        yield scope
    finally:
        with _scopes_lock:
            _scopes = tuple(s for s in _scopes if s is not scope)
