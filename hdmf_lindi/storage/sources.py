"""Byte sources: local files and HTTP(S) resources, read by byte range.

This is the only module that talks HTTP. Every range read is validated: a ranged GET must come
back ``206`` with a matching ``Content-Range`` and the exact length, or ``200`` when the whole
object was asked for; anything else raises :class:`~hdmf_lindi.errors.RemoteReadError` and never
returns an error page as data.

Range semantics everywhere: ``read_range(start, stop)`` returns bytes ``[start, stop)``; a range
that ends past the end of the resource raises :class:`~hdmf_lindi.errors.ChunkRefError`; a zero
length range returns ``b""`` without any I/O.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import Protocol

import requests

from ..errors import ChunkRefError, NodeNotFoundError, RemoteReadError

__all__ = ["ByteSource", "HttpSource", "LocalFileSource", "RemoteOptions", "TransientFileSource", "is_url"]

logger = logging.getLogger(__name__)

_CONTENT_RANGE_RE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_USER_AGENT = "hdmf-lindi"


def is_url(location: str) -> bool:
    """Return whether ``location`` is an http(s) URL."""
    return location.startswith(("http://", "https://"))


@dataclass(frozen=True, slots=True)
class RemoteOptions:
    """Tuning of HTTP access."""

    timeout_s: float = 30.0
    """Connect and read timeout of one request, in seconds. Defaults to 30."""
    initial_read_bytes: int = 1 << 20  # 1 MiB
    """How many leading bytes to fetch when opening a remote LINDI file. Defaults to 1 MiB."""
    max_gap_bytes: int = 1 << 20  # 1 MiB
    """Ranges of one URL closer than this are fetched in one request. Defaults to 1 MiB."""
    max_request_bytes: int = 64 << 20  # 64 MiB
    """Merged requests never grow beyond this (one larger range is not split). Defaults to 64 MiB."""


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
    """

    def __init__(self, path: str) -> None:
        self.name = path
        self._fd: int | None = None
        self._lock = threading.Lock()

    def open(self) -> LocalFileSource:
        """Open the file now (so that a later rename does not affect this source)."""
        self._open()
        return self

    def _open(self) -> int:
        if self._fd is None:
            with self._lock:
                if self._fd is None:
                    try:
                        self._fd = os.open(self.name, os.O_RDONLY)
                    except FileNotFoundError as exc:
                        raise NodeNotFoundError(
                            f"Referenced file {self.name!r} does not exist. Check the path, or "
                            "the working directory if the reference is relative."
                        ) from exc
        return self._fd

    def read_range(self, start: int, stop: int) -> bytes:
        # docstring inherited
        if stop <= start:
            return b""
        fd = self._open()
        data = os.pread(fd, stop - start, start)
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
        if os.preadv(self._open(), [view], start) != view.nbytes:
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


class TransientFileSource:
    """A local file opened for each read and closed right after (for many small blob files)."""

    def __init__(self, path: str) -> None:
        self.name = path

    def read_range(self, start: int, stop: int) -> bytes:
        # docstring inherited
        with open(self.name, "rb") as fh:
            fh.seek(start)
            return fh.read(stop - start)

    def read_into(self, start: int, view: memoryview) -> None:
        """Fill ``view`` with the bytes starting at ``start``.

        Raises
        ------
        ChunkRefError
            If the file ends before ``view`` is full.
        """
        with open(self.name, "rb") as fh:
            fh.seek(start)
            if fh.readinto(view) != view.nbytes:
                raise ChunkRefError(f"Byte range starting at {start} is outside {self.name!r}.", url=self.name)

    def size(self) -> int:
        # docstring inherited
        return os.path.getsize(self.name)

    def close(self) -> None:
        # docstring inherited
        return None


class HttpSource:
    """An HTTP(S) resource read with ranged GET requests through a shared session."""

    def __init__(
        self, url: str, session: requests.Session, options: RemoteOptions | None = None
    ) -> None:
        self.name = url
        self._session = session
        self._options = options or RemoteOptions()
        self._size: int | None = None
        self.requests_made = 0
        """How many HTTP requests this source has sent."""

    def _get(self, headers: dict[str, str], byte_range: tuple[int, int] | None) -> requests.Response:
        self.requests_made += 1
        headers = {"User-Agent": _USER_AGENT, **headers}
        try:
            response = self._session.get(self.name, headers=headers, timeout=self._options.timeout_s)
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            raise RemoteReadError(
                f"Cannot read {self.name}: the response broke off before its end (truncated "
                f"body: {exc}). Try again; if it persists the server is misbehaving.",
                url=self.name,
                byte_range=byte_range,
            ) from exc
        except requests.RequestException as exc:
            raise RemoteReadError(
                f"Cannot reach {self.name}: {exc}. Check the URL and your network connection.",
                url=self.name,
                byte_range=byte_range,
            ) from exc
        logger.debug(
            "GET %s range=%s -> %d (%d bytes)",
            self.name, byte_range, response.status_code, len(response.content),
        )
        return response

    def _raise_for_status(self, response: requests.Response, byte_range: tuple[int, int] | None) -> None:
        status = response.status_code
        if status in (200, 206):
            return
        what = f"bytes {byte_range[0]}-{byte_range[1] - 1}" if byte_range else "the whole file"
        if status == 416 and byte_range is not None:
            raise ChunkRefError(
                f"Cannot read {what} of {self.name}: the server answered 416 (range not "
                "satisfiable). The reference points past the end of its target.",
                url=self.name,
            )
        hint = {
            401: "The resource needs authentication.",
            403: "Access is forbidden; a presigned URL may have expired.",
            404: "The resource does not exist; check the URL.",
        }.get(status, "The server failed; try again later." if status >= 500 else "")
        raise RemoteReadError(
            f"Cannot read {what} of {self.name}: the server answered {status}. {hint}".rstrip(),
            url=self.name,
            status=status,
            byte_range=byte_range,
        )

    def read_range(self, start: int, stop: int) -> bytes:
        # docstring inherited
        if stop <= start:
            return b""
        byte_range = (start, stop)
        response = self._get({"Range": f"bytes={start}-{stop - 1}"}, byte_range)
        self._raise_for_status(response, byte_range)
        body = response.content
        if response.status_code == 200:
            # Range ignored: acceptable only if the request covered the whole object.
            if start == 0 and len(body) == stop:
                self._size = len(body)
                return body
            raise RemoteReadError(
                f"Cannot read bytes {start}-{stop - 1} of {self.name}: the server answered 200 "
                f"with {len(body)} bytes (Range ignored). Use a server that supports range "
                "requests, or download the file.",
                url=self.name,
                status=200,
                byte_range=byte_range,
            )
        match = _CONTENT_RANGE_RE.fullmatch(response.headers.get("Content-Range", "").strip())
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
        if match is None or int(match.group(1)) != start or int(match.group(2)) != stop - 1:
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
        byte_range = (0, max_bytes)
        response = self._get({"Range": f"bytes=0-{max_bytes - 1}"}, byte_range)
        self._raise_for_status(response, byte_range)
        body = response.content
        if response.status_code == 200:
            body = self._whole_body(response)
            return body, len(body)
        match = _CONTENT_RANGE_RE.fullmatch(response.headers.get("Content-Range", "").strip())
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

    def read_all(self) -> bytes:
        """Return the whole resource with one plain GET.

        Raises
        ------
        RemoteReadError
            On an error status or a body shorter than ``Content-Length``.
        """
        response = self._get({}, None)
        self._raise_for_status(response, None)
        return self._whole_body(response)

    def _whole_body(self, response: requests.Response) -> bytes:
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

    def size(self) -> int:
        # docstring inherited
        if self._size is None:
            self.read_prefix(1)
        assert self._size is not None
        return self._size

    def close(self) -> None:
        # docstring inherited
        return None
