"""An on-disk cache of remote byte ranges, size-bounded and safe to share between processes.

Entries are keyed by ``(url, start, stop)`` and know nothing about HTTP: the fetcher asks
:meth:`DiskChunkCache.get` before planning its requests and hands every range it fetched to
:meth:`DiskChunkCache.put`. Repeated reads of the same chunks, in this process or another one,
then cost no request.

Layout: one file per entry, ``DIR/ab/abcdef...`` named by the SHA-256 of the key. Each file
starts with a header (magic, payload length, CRC-32 of the payload, SHA-256 of the key) that is
checked on every read, so a file that is damaged or belongs to another key is a miss, never data.

Concurrency (threads or processes, no lock files):

* a writer writes a temporary file in the entry's directory and ``os.replace``-s it into place,
  so a reader sees either no entry or a whole one;
* a hit refreshes the entry's modification time, which eviction uses as its LRU clock;
* eviction lists the directory, removes the least recently used entries until the total is
  below 90% of the bound, and ignores entries that another process removed first.

The size bound is approximate: each process re-measures the directory after writing a tenth of
the bound, so several processes writing at once may overshoot by that much each between scans.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import struct
import threading
import time
import zlib

__all__ = ["DiskChunkCache"]

logger = logging.getLogger(__name__)

_MAGIC = b"LNDC1\n"
_HEADER = struct.Struct("<6sQI32s")  # magic, payload length, crc32, sha256 of the key
_LOW_WATER = 0.9  # eviction stops at this fraction of the bound
_STALE_TEMP_S = 600.0  # temporary files older than this were left by a crashed writer


class DiskChunkCache:
    """Byte ranges cached as files under ``directory``; see the module docstring.

    Parameters
    ----------
    directory
        Where entries live; created if missing. Share it between processes freely.
    max_bytes
        Approximate bound on the total size of the entries.
    """

    def __init__(self, directory: str | os.PathLike[str], *, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, not {max_bytes}.")
        self.directory = os.fspath(directory)
        self.max_bytes = max_bytes
        self.hits = 0
        """Lookups answered from the cache."""
        self.misses = 0
        """Lookups that found nothing usable."""
        self.bytes_written = 0
        """Payload bytes stored by this object."""
        self._lock = threading.Lock()
        self._total: int | None = None  # bytes in the directory at the last scan, plus our writes since
        self._written_since_scan = 0
        os.makedirs(self.directory, exist_ok=True)

    # ------------------------------------------------------------------ keys
    @staticmethod
    def _digest(url: str, start: int, stop: int) -> bytes:
        return hashlib.sha256(f"{start}:{stop}:{url}".encode()).digest()

    def _path(self, digest: bytes) -> str:
        name = digest.hex()
        return os.path.join(self.directory, name[:2], name)

    # ------------------------------------------------------------------ reading
    def get(self, url: str, start: int, stop: int) -> bytes | None:
        """Return the cached bytes ``[start, stop)`` of ``url``, or None."""
        digest = self._digest(url, start, stop)
        path = self._path(digest)
        payload = self._load(path, digest, stop - start)
        with self._lock:
            if payload is None:
                self.misses += 1
            else:
                self.hits += 1
        if payload is not None:
            with contextlib.suppress(OSError):
                os.utime(path)  # the LRU clock; the entry may just have been evicted
        return payload

    @staticmethod
    def _load(path: str, digest: bytes, length: int) -> bytes | None:
        """Return the payload of the entry at ``path`` if it is whole and belongs to ``digest``."""
        try:
            with open(path, "rb") as fh:
                blob = fh.read()
        except OSError:
            return None
        if len(blob) < _HEADER.size:
            return None
        magic, stored_length, crc, key = _HEADER.unpack_from(blob)
        payload = blob[_HEADER.size:]
        if (magic, key, stored_length, len(payload)) != (_MAGIC, digest, length, length) or zlib.crc32(payload) != crc:
            logger.debug("ignoring damaged cache entry %s", path)
            return None
        return payload

    # ------------------------------------------------------------------ writing
    def put(self, url: str, start: int, stop: int, data: bytes | memoryview) -> None:
        """Store ``data`` as the bytes ``[start, stop)`` of ``url`` (replacing any entry).

        Entries larger than a tenth of the bound are not stored. Failures to write (a full disk,
        a removed directory) are logged and ignored: the cache is an optimisation only.
        """
        size = len(data)
        if size != stop - start:
            raise ValueError(f"{size} bytes given for the range {start}-{stop}.")
        if size > self.max_bytes // 10:
            return
        digest = self._digest(url, start, stop)
        path = self._path(digest)
        temp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        header = _HEADER.pack(_MAGIC, size, zlib.crc32(data), digest)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(temp, "wb") as fh:
                fh.write(header)
                fh.write(data)
            os.replace(temp, path)
        except OSError as exc:
            logger.debug("cannot write cache entry %s: %s", path, exc)
            with contextlib.suppress(OSError):
                os.remove(temp)
            return
        with self._lock:
            self.bytes_written += size
            self._written_since_scan += size + _HEADER.size
            due = self._total is None or self._written_since_scan > self.max_bytes // 10
            due = due or (self._total or 0) + self._written_since_scan > self.max_bytes
        if due:
            self.evict()

    def evict(self) -> int:
        """Remove least recently used entries until the total is below 90% of the bound.

        Returns the total size of the entries left (as measured by this scan).
        """
        entries = list(self._entries())
        total = sum(size for _, size, _ in entries)
        if total > self.max_bytes:
            entries.sort(key=lambda e: e[2])  # oldest first
            for path, size, _ in entries:
                if total <= self.max_bytes * _LOW_WATER:
                    break
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
                total -= size  # gone, whoever removed it
        with self._lock:
            self._total, self._written_since_scan = total, 0
        return total

    def _entries(self) -> list[tuple[str, int, float]]:
        """Return ``(path, size, mtime)`` of every entry; remove stale temporary files."""
        out: list[tuple[str, int, float]] = []
        now = time.time()
        with contextlib.suppress(FileNotFoundError), os.scandir(self.directory) as top:
            for sub in top:
                if not sub.is_dir():
                    continue
                with contextlib.suppress(FileNotFoundError), os.scandir(sub.path) as files:
                    for entry in files:
                        try:
                            st = entry.stat()
                        except FileNotFoundError:
                            continue
                        if entry.name.endswith(".tmp"):
                            if now - st.st_mtime > _STALE_TEMP_S:
                                with contextlib.suppress(FileNotFoundError):
                                    os.remove(entry.path)
                            continue
                        out.append((entry.path, st.st_size, st.st_mtime))
        return out

    def size_bytes(self) -> int:
        """Return the total size of the entries now on disk (a directory scan)."""
        return sum(size for _, size, _ in self._entries())
