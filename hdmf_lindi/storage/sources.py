"""Byte sources: local files and HTTP(S) resources, read by byte range.

This is the only module that talks HTTP. Every range read is validated: a ranged GET must come
back ``206`` with a matching ``Content-Range`` and the exact length, or ``200`` when the whole
object was asked for; anything else raises :class:`~hdmf_lindi.errors.RemoteReadError` and never
returns an error page as data. One exception: a server that ignores Range (``200`` with the whole
object, e.g. ``python -m http.server``) has that body kept, if it is no larger than
:attr:`RemoteOptions.max_ignored_range_bytes` and agrees with the length already known, and every
later range of that URL is served from it.

Range semantics everywhere: ``read_range(start, stop)`` returns bytes ``[start, stop)``; a range
that ends past the end of the resource raises :class:`~hdmf_lindi.errors.ChunkRefError`; a zero
length range returns ``b""`` without any I/O.

Transient failures are retried with exponential backoff and jitter (see :class:`RemoteOptions`):
connection errors, timeouts, a body that breaks off before its end, ``429`` (honouring
``Retry-After``) and ``5xx``. Nothing else is retried: another ``4xx``, or a response that fails
validation (a wrong ``Content-Range``, an ignored Range whose body cannot be kept, a body whose
length disagrees with the request), raises at once. DANDI download URLs are resolved to presigned URLs first (see
:mod:`hdmf_lindi.storage.dandi`).

A source may carry the :class:`~hdmf_lindi.storage.identity.SourceIdentity` recorded for it
(``expected``). A local file is compared with it at the ``fstat`` of its opening; a remote one
with the size (``Content-Range`` or ``Content-Length``), ``ETag`` and ``Last-Modified`` of every
``200``/``206`` answer, before the body is read. A mismatch raises
:class:`~hdmf_lindi.errors.SourceChangedError`; no byte of the changed source is returned.
"""

from __future__ import annotations

import logging
import os
import random
import re
import stat
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from ..errors import ChunkRefError, NodeNotFoundError, RemoteReadError, SourceChangedError
from .dandi import DANDI_API_HOSTS, ApiHosts, PresignedUrl, auth_headers, is_download_url
from .identity import SourceIdentity, local_identity
from .stats import IOStats, record_read

__all__ = [
    "ByteSource",
    "HttpSource",
    "LocalFileSource",
    "RemoteOptions",
    "TransientFileSource",
    "is_url",
    "make_session",
]

logger = logging.getLogger(__name__)

_CONTENT_RANGE_RE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_USER_AGENT = "hdmf-lindi"
_T = TypeVar("_T")


def is_url(location: str) -> bool:
    """Return whether ``location`` is an http(s) URL."""
    return location.startswith(("http://", "https://"))


@dataclass(frozen=True, slots=True)
class RemoteOptions:
    """Tuning of HTTP access. Every default lives here and nowhere else."""

    timeout_s: float = 30.0
    """The read timeout, the longest wait for the next bytes of an answer, in seconds. Defaults to 30."""
    connect_timeout_s: float = 10.0
    """Timeout for establishing a connection, in seconds. Defaults to 10."""
    initial_read_bytes: int = 1 << 20  # 1 MiB
    """How many leading bytes to fetch when opening a remote LINDI file. Defaults to 1 MiB."""
    max_gap_bytes: int = 1 << 20  # 1 MiB
    """Ranges of one URL closer than this are fetched in one request. Defaults to 1 MiB."""
    max_request_bytes: int = 64 << 20  # 64 MiB
    """Merged requests never grow beyond this (one larger range is not split). Defaults to 64 MiB."""
    max_workers: int = 8
    """How many requests one batched read runs at once; also the connection pool size. Defaults to 8."""
    max_retries: int = 4
    """How often a transient failure is retried (at most ``max_retries + 1`` attempts). Defaults to 4."""
    backoff_base_s: float = 0.1
    """Wait before the first retry; it doubles with each retry and is scaled by a random factor
    in [0.5, 1] (jitter). Defaults to 0.1 s."""
    backoff_cap_s: float = 10.0
    """Longest wait between two attempts, before jitter. Defaults to 10 s."""
    max_retry_after_s: float = 60.0
    """Longest ``Retry-After`` honoured; a server asking for a longer wait fails at once. Defaults to 60 s."""
    cache_dir: str | None = None
    """Directory of an on-disk cache of remote chunk bytes, safe to share between processes
    (see :class:`~hdmf_lindi.storage.chunk_cache.DiskChunkCache`); None (the default) for no cache."""
    cache_max_bytes: int = 1 << 30  # 1 GiB
    """Approximate size bound of the on-disk cache. Defaults to 1 GiB."""
    dandi_api_hosts: ApiHosts = DANDI_API_HOSTS
    """``(netloc, token environment variable)`` pairs of the DANDI API hosts; see
    :mod:`~hdmf_lindi.storage.dandi`."""
    max_ignored_range_bytes: int = 256 << 20  # 256 MiB
    """When a server ignores ``Range`` (answers ``200`` with the whole resource, like
    ``python -m http.server``), a whole body up to this size is kept in memory and every later
    range of that URL is served from it; a larger one raises
    :class:`~hdmf_lindi.errors.RemoteReadError`. 0 never keeps one. Defaults to 256 MiB."""

    def __post_init__(self) -> None:
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, not {self.max_workers}.")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must not be negative, not {self.max_retries}.")
        if min(self.timeout_s, self.connect_timeout_s) <= 0:
            raise ValueError("timeout_s and connect_timeout_s must be positive.")
        if min(self.backoff_base_s, self.backoff_cap_s, self.max_retry_after_s) < 0:
            raise ValueError("backoff_base_s, backoff_cap_s and max_retry_after_s must not be negative.")

    def backoff_s(self, retry: int) -> float:
        """Return how long to wait before retry number ``retry`` (1 for the first), jitter included."""
        delay = min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** (retry - 1))
        return delay * random.uniform(0.5, 1.0)


def make_session(options: RemoteOptions) -> requests.Session:
    """Return a session whose pools keep ``options.max_workers`` connections per host alive.

    urllib3's own retries are off: :class:`HttpSource` retries, so that it can validate every
    answer and count the attempts.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=max(10, options.max_workers), max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if not _netrc_file_exists():
        # requests looks for a .netrc on every request that carries no auth (importing netrc
        # and shlex on the first, ~1.5 ms); with none on this machine the answer is known.
        session.auth = _NoAuth()
    return session


class _NoAuth(requests.auth.AuthBase):
    """An auth that changes nothing: tells requests not to look for .netrc credentials."""

    def __call__(self, request: Any) -> Any:
        return request


def _netrc_file_exists() -> bool:
    """Whether requests could find .netrc credentials (``$NETRC``, ``~/.netrc``, ``~/_netrc``)."""
    if os.environ.get("NETRC") is not None:
        return True
    return any(os.path.exists(os.path.expanduser(f"~/{name}")) for name in (".netrc", "_netrc"))


class ByteSource(Protocol):
    """Something that serves byte ranges of one resource."""

    name: str
    """The path or URL, for messages."""

    def read_range(self, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)``."""
        ...

    def size(self) -> int:
        """Return the size of the resource in bytes."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


class LocalFileSource:
    """A local file read with ``os.pread`` (thread-safe, no shared file position).

    Raises
    ------
    NodeNotFoundError
        On first use, if the file does not exist.
    ChunkRefError
        On first use, if the path cannot be opened (no permission, a directory, a NUL in the
        name ...); on a read, if the range lies outside the file.
    """

    def __init__(self, path: str, expected: SourceIdentity | None = None, *, stats: IOStats | None = None) -> None:
        self.name = path
        self.expected = expected
        """The identity recorded for this file, checked when it is opened; None for no check."""
        self.identity: SourceIdentity | None = None
        """The identity found when the file was opened."""
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._stats = stats

    def open(self) -> LocalFileSource:
        """Open the file now (so that a later rename does not affect this source)."""
        self._open()
        return self

    def _open(self) -> int:
        if self._fd is None:
            with self._lock:
                if self._fd is None:
                    self._fd = self._open_regular_file()
        return self._fd

    def _open_regular_file(self) -> int:
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below)
            fd = os.open(self.name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError as exc:
            raise NodeNotFoundError(
                f"Referenced file {self.name!r} does not exist. Check the path, or "
                "the working directory if the reference is relative."
            ) from exc
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
            raise ChunkRefError(f"Cannot open referenced file {self.name!r}: {exc}.", url=self.name) from exc
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise ChunkRefError(
                f"Referenced path {self.name!r} is not a regular file (a directory?); a chunk "
                "reference must name a file.",
                url=self.name,
            )
        self.identity = local_identity(st)
        if self.expected is not None:
            try:
                check_identity(self.name, self.expected, self.identity)
            except SourceChangedError:
                os.close(fd)
                raise
        return fd

    def read_range(self, start: int, stop: int) -> bytes:
        # docstring inherited
        if stop <= start:
            return b""
        fd = self._open()
        size = os.fstat(fd).st_size
        if stop > size:  # checked first: pread would allocate the whole length before reading
            raise ChunkRefError(
                f"Byte range {start}-{stop} is outside {self.name!r} ({size} bytes). "
                "The reference points past the end of its target; the file may be truncated.",
                url=self.name,
            )
        data = os.pread(fd, stop - start, start)
        record_read(self._stats, self.name, len(data))
        if len(data) != stop - start:
            raise ChunkRefError(
                f"Byte range {start}-{stop} is outside {self.name!r} ({self.size()} bytes). "
                "The reference points past the end of its target; the file may be truncated.",
                url=self.name,
            )
        return data

    def read_into(self, start: int, view: memoryview) -> None:
        """Fill ``view`` with the bytes starting at ``start`` (no intermediate copy).

        Raises
        ------
        ChunkRefError
            If the file ends before ``view`` is full.
        """
        got = os.preadv(self._open(), [view], start)
        record_read(self._stats, self.name, got)
        if got != view.nbytes:
            raise ChunkRefError(
                f"Byte range {start}-{start + view.nbytes} is outside {self.name!r} ({self.size()} "
                "bytes). The reference points past the end of its target; the file may be truncated.",
                url=self.name,
            )

    def size(self) -> int:
        # docstring inherited
        return os.fstat(self._open()).st_size

    def close(self) -> None:
        # docstring inherited
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def check_identity(name: str, expected: SourceIdentity, found: SourceIdentity) -> None:
    """Raise :class:`SourceChangedError` unless ``found`` matches the recorded ``expected``."""
    differ = expected.differences(found)
    if differ:
        raise SourceChangedError(
            f"Referenced file {name} has changed since it was indexed ({', '.join(differ)} "
            f"differ{'s' if len(differ) == 1 else ''}): recorded {expected.describe()}; found "
            f"{found.describe()}. Its chunk references may now point at other data; index it "
            "again (or set HDMF_LINDI_CHECK_SOURCES=0 if you know the content is the same).",
            url=name,
            recorded=expected,
            found=found,
        )


def answer_identity(status: int, headers: Mapping[str, str]) -> SourceIdentity | None:
    """The identity a ``200``/``206`` answer states (None when it does not give the size)."""
    if status == 206:
        match = _content_range(headers)
        if match is None or match.group(3) == "*":
            return None
        size = int(match.group(3))
    else:
        length = headers.get("Content-Length")
        if length is None or not length.strip().isdigit():
            return None
        size = int(length)
    return SourceIdentity(size, etag=headers.get("ETag"), last_modified=headers.get("Last-Modified"))


class TransientFileSource:
    """A local file opened for each read and closed right after (for many small blob files).

    Reads are counted in ``stats`` under ``counted_as`` (e.g. the directory holding the blob
    files), so that thousands of blobs do not make thousands of per-source entries.
    """

    def __init__(self, path: str, *, stats: IOStats | None = None, counted_as: str | None = None) -> None:
        self.name = path
        self._stats = stats
        self._counted_as = counted_as or path

    def read_range(self, start: int, stop: int) -> bytes:
        # docstring inherited
        with open(self.name, "rb") as fh:
            fh.seek(start)
            data = fh.read(stop - start)
        record_read(self._stats, self._counted_as, len(data))
        return data

    def read_into(self, start: int, view: memoryview) -> None:
        """Fill ``view`` with the bytes starting at ``start``.

        Raises
        ------
        ChunkRefError
            If the file ends before ``view`` is full.
        """
        with open(self.name, "rb") as fh:
            fh.seek(start)
            got = fh.readinto(view)
            record_read(self._stats, self._counted_as, got)
            if got != view.nbytes:
                raise ChunkRefError(f"Byte range starting at {start} is outside {self.name!r}.", url=self.name)

    def size(self) -> int:
        # docstring inherited
        return os.path.getsize(self.name)

    def close(self) -> None:
        # docstring inherited
        return None


class _Transient(Exception):
    """A failure worth retrying (no answer, a broken-off body, 429 or 5xx); never leaves this module."""

    def __init__(self, message: str, status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s


def _retry_after_s(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header (seconds, or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class _Answer:
    """A complete HTTP answer, body read in one call; fields are named as in ``requests.Response``."""

    status_code: int
    headers: Mapping[str, str]
    """Case-insensitive."""
    content: bytes
    """A ``bytearray`` when the answer was streamed."""
    is_redirect: bool


Progress = Callable[[bytearray, int], None]
"""``progress(buffer, received)``: the first ``received`` bytes of a ranged answer are in ``buffer``."""

STREAM_BLOCK_BYTES = 1 << 18
"""A streamed answer is read (and progress reported) this many bytes at a time."""


def _content_range(headers: Mapping[str, str]) -> re.Match[str] | None:
    """The parsed ``Content-Range: bytes FIRST-LAST/SIZE`` header, or None."""
    return _CONTENT_RANGE_RE.fullmatch(headers.get("Content-Range", "").strip())


def _is_exactly(match: re.Match[str] | None, start: int, stop: int) -> bool:
    """Whether a parsed ``Content-Range`` is exactly bytes ``start``..``stop - 1``."""
    return match is not None and int(match.group(1)) == start and int(match.group(2)) == stop - 1


def _read_body_streaming(raw: Any, expected: int, progress: Progress) -> bytes:
    """Read a body of ``expected`` bytes in blocks, calling ``progress`` after each block.

    A shorter body comes back short and a longer one long, for the caller's length check.
    """
    buf = bytearray(expected)
    view = memoryview(buf)
    received = 0
    while received < expected:
        piece = raw.read(min(STREAM_BLOCK_BYTES, expected - received))
        if not piece:
            return bytes(view[:received])
        view[received:received + len(piece)] = piece
        received += len(piece)
        progress(buf, received)
    extra = raw.read()
    if extra:
        return bytes(buf) + extra
    return cast(bytes, buf)  # a bytearray serves wherever bytes are read


def _describe(byte_range: tuple[int, int] | None) -> str:
    return f"bytes {byte_range[0]}-{byte_range[1] - 1}" if byte_range else "the whole file"


class HttpSource:
    """An HTTP(S) resource read with ranged GET requests through a shared, pooled session.

    Thread-safe: the fetcher reads several ranges of one source at once. Every read makes at
    most ``options.max_retries + 1`` attempts (plus one DANDI re-resolution on ``403``).

    Parameters
    ----------
    url
        The resource. A DANDI asset download URL (see :mod:`~hdmf_lindi.storage.dandi`) is
        resolved to its presigned storage URL on first use; errors still name ``url``.
    session
        The session to send requests through (see :func:`make_session`).
    options
        Timeouts, retries and the DANDI host table.
    stats
        The counters of the file this source reads for (see :mod:`~hdmf_lindi.storage.stats`).
    """

    def __init__(
        self,
        url: str,
        session: requests.Session,
        options: RemoteOptions | None = None,
        *,
        stats: IOStats | None = None,
    ) -> None:
        self.name = url
        self._stats = stats
        self._session = session
        self._options = options or RemoteOptions()
        self._size: int | None = None
        self._lock = threading.Lock()
        self._is_dandi = is_download_url(url, self._options.dandi_api_hosts)
        self._presigned: PresignedUrl | None = None
        self._resolve_lock = threading.Lock()
        self.expected: SourceIdentity | None = None
        """The identity recorded for this URL, checked on every answer; None for no check."""
        self.identity: SourceIdentity | None = None
        """The identity stated by the last ``200``/``206`` answer (or HEAD), when it gave the size."""
        self._seen: tuple[str | None, ...] | None = None  # the identity headers last checked
        self._seen_expected: SourceIdentity | None = None
        self.requests_made = 0
        """How many HTTP requests this source has sent (DANDI resolutions and retries included)."""
        self.retries = 0
        """How many of them were retries after a transient failure."""
        self._whole: bytes | None = None  # the whole resource, sent by a server that ignores Range

    # ------------------------------------------------------------------ requests
    def _send(
        self,
        url: str,
        headers: dict[str, str],
        byte_range: tuple[int, int] | None,
        *,
        follow: bool = True,
        progress: Progress | None = None,
    ) -> _Answer:
        """Send one GET and read the whole answer; raise :class:`_Transient` if none arrived whole.

        With ``progress``, a ``206`` answer whose ``Content-Range`` is exactly ``byte_range`` is
        read in blocks and ``progress`` is told after each; any other answer is read in one go.
        """
        with self._lock:
            self.requests_made += 1
        record_read(self._stats, self.name, 0)  # the request; its bytes once they are in
        headers = {
            "User-Agent": _USER_AGENT,
            "Accept-Encoding": "identity",  # byte ranges of the stored bytes, never re-encoded ones
            **headers,
            **auth_headers(url, self._options.dandi_api_hosts),
        }
        timeout = (self._options.connect_timeout_s, self._options.timeout_s)
        try:
            response = self._session.get(url, headers=headers, timeout=timeout, allow_redirects=follow, stream=True)
            try:
                if response.status_code in (200, 206):
                    try:
                        self._observe(response.status_code, response.headers)  # before any byte is read
                    except SourceChangedError:
                        response.raw.close()  # the body stays unread: the connection must not be reused
                        raise
                if (
                    progress is not None
                    and byte_range is not None
                    and response.status_code == 206
                    and _is_exactly(_content_range(response.headers), *byte_range)
                ):
                    body = _read_body_streaming(response.raw, byte_range[1] - byte_range[0], progress)
                else:
                    # One read of the whole body (requests' .content reads it 10 KiB at a time).
                    body = response.raw.read()
                record_read(self._stats, self.name, len(body), requests=0)
                answer = _Answer(response.status_code, response.headers, body, response.is_redirect)
            finally:
                response.raw.release_conn()
        except (urllib3.exceptions.ProtocolError, requests.exceptions.ChunkedEncodingError) as exc:
            raise _Transient(
                f"Cannot read {_describe(byte_range)} of {self.name}: the response broke off before "
                f"its end (truncated body: {exc})."
            ) from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise _Transient(f"Cannot reach {self.name}: {exc}. Check the URL and your network connection.") from exc
        logger.debug("GET %s range=%s -> %d (%d bytes)", url, byte_range, answer.status_code, len(answer.content))
        if answer.status_code == 429 or answer.status_code >= 500:
            raise _Transient(
                self._status_message(answer.status_code, byte_range),
                status=answer.status_code,
                retry_after_s=_retry_after_s(answer.headers.get("Retry-After")),
            )
        return answer

    def _observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Note the identity an answer states; raise :class:`SourceChangedError` if it is not the recorded one."""
        total = headers.get("Content-Range", "").rpartition("/")[2] if status == 206 else headers.get("Content-Length")
        seen = (total, headers.get("ETag"), headers.get("Last-Modified"))
        if seen == self._seen and self.expected is self._seen_expected:
            return  # the same statement as the previous answer: checked already
        found = answer_identity(status, headers)
        if found is None:
            return
        if self.expected is not None:
            check_identity(self.name, self.expected, found)
        self.identity = found
        self._seen, self._seen_expected = seen, self.expected

    def _data_url(self, byte_range: tuple[int, int] | None, *, stale: str | None = None) -> str:
        """Return the URL to read from: ``name``, or the presigned URL a DANDI URL redirects to.

        ``stale`` is a presigned URL that was refused (``403``): it is replaced, unless another
        thread has replaced it already.
        """
        if not self._is_dandi:
            return self.name
        with self._resolve_lock:  # one resolution at a time: concurrent reads share it
            presigned = self._presigned
            if presigned is not None and presigned.url != stale and presigned.is_fresh(time.time()):
                return presigned.url
            response = self._send(self.name, {}, byte_range, follow=False)
            location = response.headers.get("Location")
            if response.is_redirect and location:
                presigned = PresignedUrl.from_url(urljoin(self.name, location))
            elif response.status_code in (200, 206):
                presigned = PresignedUrl(self.name, None)  # served by the API itself
            else:
                self._raise_for_status(response, byte_range)
                raise AssertionError("unreachable")  # pragma: no cover
            logger.debug("resolved %s -> %s", self.name, urlsplit(presigned.url).netloc)
            self._presigned = presigned
            return presigned.url

    def _attempt(
        self,
        headers: dict[str, str],
        byte_range: tuple[int, int] | None,
        handle: Callable[[_Answer], _T],
        progress: Progress | None = None,
    ) -> _T:
        """Send a GET with retries and return ``handle(response)`` for the first usable answer.

        ``handle`` validates the response and raises :class:`RemoteReadError` or
        :class:`ChunkRefError` for a bad one; those are never retried. ``progress`` goes to
        :meth:`_send` for every attempt (a retry starts again from byte 0).
        """
        attempts = 0
        renewed = False
        while True:
            attempts += 1
            try:
                url = self._data_url(byte_range)
                response = self._send(url, headers, byte_range, progress=progress)
                if response.status_code == 403 and self._is_dandi and not renewed:
                    # The presigned URL expired: resolve again, once, without counting an attempt.
                    renewed, attempts = True, attempts - 1
                    self._data_url(byte_range, stale=url)
                    continue
                self._raise_for_status(response, byte_range, attempts)
                return handle(response)
            except _Transient as exc:
                delay = self._options.backoff_s(attempts)
                too_long = exc.retry_after_s is not None and exc.retry_after_s > self._options.max_retry_after_s
                if attempts > self._options.max_retries or too_long:
                    why = (
                        f" The server asked to retry after {exc.retry_after_s:.0f} s, more than "
                        f"max_retry_after_s ({self._options.max_retry_after_s:g} s)." if too_long else ""
                    )
                    raise RemoteReadError(
                        f"{exc.message} Gave up after {attempts} attempt{'s' if attempts > 1 else ''}.{why}",
                        url=self.name,
                        status=exc.status,
                        byte_range=byte_range,
                        attempts=attempts,
                    ) from exc
                if exc.retry_after_s is not None:
                    delay = max(delay, exc.retry_after_s)
                with self._lock:
                    self.retries += 1
                record_read(self._stats, self.name, 0, requests=0, retries=1)
                logger.debug("retry %d of %s %s in %.3f s: %s", attempts, self.name, byte_range, delay, exc.message)
                time.sleep(delay)

    def _status_message(self, status: int, byte_range: tuple[int, int] | None) -> str:
        hint = {
            401: "The resource needs authentication.",
            403: "Access is forbidden; a presigned URL may have expired.",
            404: "The resource does not exist; check the URL.",
            429: "The server is rate limiting requests.",
        }.get(status, "The server failed; try again later." if status >= 500 else "")
        if self._is_dandi and status in (401, 403):
            hint += " For an embargoed dandiset set DANDI_API_KEY (or DANDI_STAGING_API_KEY)."
        if self._is_dandi and status == 404:
            hint = (
                "The DANDI asset behind this URL no longer exists: an asset id is dropped when its "
                "asset is replaced or removed (its blob may be garbage-collected). Index the file "
                "again from its current asset; indexes made by hdmf-lindi point at the immutable "
                "blob URL instead (IndexOptions.pin_dandi_blob)."
            )
        return f"Cannot read {_describe(byte_range)} of {self.name}: the server answered {status}. {hint}".rstrip()

    def _raise_for_status(
        self, response: _Answer, byte_range: tuple[int, int] | None, attempts: int = 1
    ) -> None:
        status = response.status_code
        if status in (200, 206):
            return
        if status == 416 and byte_range is not None:
            raise ChunkRefError(
                f"Cannot read {_describe(byte_range)} of {self.name}: the server answered 416 (range "
                "not satisfiable). The reference points past the end of its target.",
                url=self.name,
            )
        raise RemoteReadError(
            self._status_message(status, byte_range),
            url=self.name,
            status=status,
            byte_range=byte_range,
            attempts=attempts,
        )

    # ------------------------------------------------------------------ reads
    def read_range(self, start: int, stop: int, progress: Progress | None = None) -> bytes:
        """Return bytes ``start``..``stop - 1``, validated (see the class docstring).

        ``progress(buffer, received)``, if given, is called as the answer arrives, once its
        status and ``Content-Range`` have been checked: the first ``received`` bytes of
        ``buffer`` are then the requested bytes. A retry reports from byte 0 again. The read
        can still fail afterwards (a truncated body); only the return value is the complete,
        validated answer.
        """
        if stop <= start:
            return b""
        whole = self._whole
        if whole is not None:
            return self._from_whole(whole, start, stop)
        byte_range = (start, stop)
        return self._attempt(
            {"Range": f"bytes={start}-{stop - 1}"},
            byte_range,
            lambda r: self._check_range(r, start, stop),
            progress,
        )

    def _check_range(self, response: _Answer, start: int, stop: int) -> bytes:
        byte_range = (start, stop)
        body = response.content
        if response.status_code == 200:
            # Range ignored: the whole object, checked against its length, then kept if small.
            if start == 0 and len(body) == stop:
                self._size = len(body)
                return body
            known = self._size
            if stop <= len(body) and (known is None or known == len(body)):
                body = self._whole_body(response)
                if self._keep_whole(body):
                    return body[start:stop]
            cap = self._options.max_ignored_range_bytes
            raise RemoteReadError(
                f"Cannot read bytes {start}-{stop - 1} of {self.name}: the server answered 200 "
                f"with {len(body)} bytes (Range ignored"
                + (f"; a whole body is kept only up to max_ignored_range_bytes={cap}" if len(body) > cap else "")
                + "). Use a server that supports range requests, or download the file.",
                url=self.name,
                status=200,
                byte_range=byte_range,
            )
        match = _content_range(response.headers)
        if (
            match is not None
            and int(match.group(1)) == start
            and match.group(3) == str(int(match.group(2)) + 1)
            and int(match.group(2)) < stop - 1
        ):
            # RFC 9110 servers clamp a range that runs past the end to the last byte.
            raise ChunkRefError(
                f"Cannot read bytes {start}-{stop - 1} of {self.name}: the resource has only "
                f"{match.group(3)} bytes. The reference points past the end of its target.",
                url=self.name,
            )
        if match is None or not _is_exactly(match, start, stop):
            raise RemoteReadError(
                f"Cannot read bytes {start}-{stop - 1} of {self.name}: the server answered 206 "
                f"with Content-Range {response.headers.get('Content-Range')!r}, which does not "
                "match the request.",
                url=self.name,
                status=206,
                byte_range=byte_range,
            )
        if match.group(3) != "*":
            self._size = int(match.group(3))
        if len(body) != stop - start:
            raise RemoteReadError(
                f"Cannot read bytes {start}-{stop - 1} of {self.name}: expected {stop - start} "
                f"bytes, got {len(body)} (truncated response).",
                url=self.name,
                status=206,
                byte_range=byte_range,
            )
        return body

    def read_prefix(self, max_bytes: int) -> tuple[bytes, int]:
        """Return up to ``max_bytes`` leading bytes and the total size, in one request.

        Raises
        ------
        RemoteReadError
            On an error status, a mismatched ``Content-Range`` or a truncated body.
        """
        return self._attempt(
            {"Range": f"bytes=0-{max_bytes - 1}"}, (0, max_bytes), lambda r: self._check_prefix(r, max_bytes)
        )

    def _check_prefix(self, response: _Answer, max_bytes: int) -> tuple[bytes, int]:
        byte_range = (0, max_bytes)
        body = response.content
        if response.status_code == 200:
            body = self._whole_body(response)
            self._keep_whole(body)  # a 200 to a ranged GET: Range ignored, this is all of it
            return body, len(body)
        match = _content_range(response.headers)
        if match is None or int(match.group(1)) != 0 or match.group(3) == "*":
            raise RemoteReadError(
                f"Cannot read {self.name}: the server answered 206 with Content-Range "
                f"{response.headers.get('Content-Range')!r}; expected 'bytes 0-N/SIZE'.",
                url=self.name,
                status=206,
                byte_range=byte_range,
            )
        total = int(match.group(3))
        if len(body) != int(match.group(2)) + 1:
            raise RemoteReadError(
                f"Cannot read {self.name}: expected {int(match.group(2)) + 1} bytes, got "
                f"{len(body)} (truncated response).",
                url=self.name,
                status=206,
                byte_range=byte_range,
            )
        self._size = total
        return body, total

    def _keep_whole(self, body: bytes) -> bool:
        """Keep ``body``, the whole resource from a server that ignored Range, if it is small enough."""
        if len(body) > self._options.max_ignored_range_bytes:
            return False
        with self._lock:
            if self._whole is None:
                logger.info(
                    "%s: the server ignores Range requests; keeping its whole %d-byte body in memory "
                    "and serving later ranges from it", self.name, len(body),
                )
                self._whole = body
        return True

    def _from_whole(self, whole: bytes, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)`` of the kept whole body."""
        if stop > len(whole):
            raise ChunkRefError(
                f"Cannot read bytes {start}-{stop - 1} of {self.name}: the resource has only "
                f"{len(whole)} bytes. The reference points past the end of its target.",
                url=self.name,
            )
        return whole[start:stop]

    def read_all(self) -> bytes:
        """Return the whole resource with one plain GET.

        Raises
        ------
        RemoteReadError
            On an error status or a body shorter than ``Content-Length``.
        """
        whole = self._whole
        if whole is not None:
            return whole
        return self._attempt({}, None, self._whole_body)

    def _whole_body(self, response: _Answer) -> bytes:
        """Return the body of a response carrying the whole resource, checked against its length."""
        body = response.content
        expected = response.headers.get("Content-Length")
        if expected is not None and int(expected) != len(body):
            raise RemoteReadError(
                f"Cannot read {self.name}: expected {expected} bytes, got {len(body)} "
                "(truncated response).",
                url=self.name,
                status=response.status_code,
            )
        self._size = len(body)
        return body

    @property
    def is_dandi_download(self) -> bool:
        """Whether this is a DANDI asset download URL, read through the storage URL it redirects to."""
        return self._is_dandi

    def storage_url(self) -> str:
        """The URL range reads go to: the DANDI storage URL the API redirects to, else ``name``.

        Resolves a DANDI download URL (one request) unless done already.

        Raises
        ------
        RemoteReadError
            If the API refuses (a ``404`` for an asset that no longer exists, ...).
        """
        try:
            return self._data_url((0, 1))
        except _Transient as exc:
            raise RemoteReadError(exc.message, url=self.name, status=exc.status) from exc

    def probe(self) -> SourceIdentity:
        """Return the identity of the resource: one HEAD, or a 1-byte ranged GET if HEAD fails.

        A DANDI download URL goes straight to the ranged GET (its presigned storage URL is
        signed for GET only).

        Raises
        ------
        RemoteReadError
            If the resource cannot be read.
        SourceChangedError
            If ``expected`` is set and the resource no longer matches it.
        """
        if not self._is_dandi:
            with self._lock:
                self.requests_made += 1
            headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity", **auth_headers(self.name, self._options.dandi_api_hosts)}
            timeout = (self._options.connect_timeout_s, self._options.timeout_s)
            try:
                response = self._session.head(self.name, headers=headers, timeout=timeout, allow_redirects=True)
                response.close()
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                logger.debug("HEAD %s failed (%s); trying a ranged GET", self.name, exc)
            else:
                logger.debug("HEAD %s -> %d", self.name, response.status_code)
                if response.status_code == 200 and answer_identity(200, response.headers) is not None:
                    self._observe(200, response.headers)
                    assert self.identity is not None
                    self._size = self.identity.size
                    return self.identity
        self.identity = self._seen = None
        self.read_prefix(1)
        if self.identity is None:  # a 206 without the total size, or a 200 without Content-Length
            assert self._size is not None
            self.identity = SourceIdentity(self._size)
        return self.identity

    def size(self) -> int:
        # docstring inherited
        if self._size is None:
            self.read_prefix(1)
        assert self._size is not None
        return self._size

    def close(self) -> None:
        # docstring inherited
        return None
