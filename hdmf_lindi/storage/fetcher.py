"""The one fetcher every byte goes through: url -> byte source, and batched range reads.

This is the seam for remote performance work: callers hand the fetcher a whole batch of
``(url, start, stop)`` requests and get the bytes back in the same order, so coalescing,
concurrency and caching can be added here without touching callers.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence

import requests

from ..errors import ChunkRefError
from .ranges import plan_reads
from .sources import ByteSource, HttpSource, LocalFileSource, RemoteOptions, is_url

__all__ = ["Fetcher", "ReadRequest"]

logger = logging.getLogger(__name__)

LOCAL_MAX_GAP_BYTES = 4096  # merge local reads separated by tar headers and padding

ReadRequest = tuple["str | ByteSource", int, int]
"""``(url, path or source, start, stop)`` with ``stop`` exclusive."""


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
        HTTP tuning.
    """

    def __init__(
        self,
        *,
        base_dir: str | None = None,
        allow_local: bool = True,
        options: RemoteOptions | None = None,
    ) -> None:
        self.base_dir = base_dir
        self.allow_local = allow_local
        self.options = options or RemoteOptions()
        self._session: requests.Session | None = None
        self._sources: dict[str, ByteSource] = {}
        self._lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        """The pooled HTTP session, created on first use."""
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def source(self, url: str) -> ByteSource:
        """Return the (cached) byte source for a url or local path.

        Raises
        ------
        ChunkRefError
            If ``url`` is a local path and local reads are not allowed.
        """
        src = self._sources.get(url)
        if src is not None:
            return src
        with self._lock:
            src = self._sources.get(url)
            if src is None:
                src = self._make_source(url)
                self._sources[url] = src
        return src

    def _make_source(self, url: str) -> ByteSource:
        if is_url(url):
            return HttpSource(url, self.session, self.options)
        if url.startswith("file://"):
            url = url[len("file://"):]
        if not self.allow_local:
            raise ChunkRefError(
                f"Refusing to read local path {url!r} referenced by a remote LINDI document. "
                "Open the document with allow_local_paths=True if you trust it.",
                url=url,
            )
        path = url
        if not os.path.isabs(path) and self.base_dir is not None:
            candidate = os.path.join(self.base_dir, path)
            if os.path.exists(candidate) or not os.path.exists(path):
                path = candidate
        return LocalFileSource(path)

    def read(self, url: str, start: int, stop: int) -> bytes:
        """Read bytes ``[start, stop)`` of ``url``.

        Raises
        ------
        ChunkRefError
            If the range lies outside the resource.
        RemoteReadError
            If an HTTP read fails.
        """
        return self.source(url).read_range(start, stop)

    def read_many(self, requests_: Sequence[ReadRequest]) -> list[bytes]:
        """Read a batch of ranges; results come back in request order.

        Raises
        ------
        ChunkRefError
            If a range lies outside its resource.
        RemoteReadError
            If an HTTP read fails.
        """
        out: list[bytes] = [b""] * len(requests_)
        groups: dict[int, tuple[ByteSource, list[int]]] = {}
        for i, (target, _start, _stop) in enumerate(requests_):
            src = self.source(target) if isinstance(target, str) else target
            groups.setdefault(id(src), (src, []))[1].append(i)
        for src, indices in groups.values():
            if len(indices) == 1:
                _, start, stop = requests_[indices[0]]
                out[indices[0]] = src.read_range(start, stop)
                continue
            ranges = [(requests_[i][1], requests_[i][2]) for i in indices]
            remote = isinstance(src, HttpSource)
            plan = plan_reads(
                ranges,
                max_gap_bytes=self.options.max_gap_bytes if remote else LOCAL_MAX_GAP_BYTES,
                max_request_bytes=self.options.max_request_bytes,
            )
            for merged in plan:
                data = memoryview(src.read_range(merged.start, merged.stop))
                for m in merged.members:
                    start, stop = ranges[m]
                    out[indices[m]] = data[start - merged.start:stop - merged.start]  # type: ignore[call-overload]
        return out

    def close(self) -> None:
        """Close every open source and the HTTP session."""
        for src in self._sources.values():
            src.close()
        self._sources.clear()
        if self._session is not None:
            self._session.close()
            self._session = None
