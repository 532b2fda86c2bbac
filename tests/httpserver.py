"""A real HTTP server for tests: byte ranges, a request log, and misbehaviour on demand.

:class:`RangeServer` runs the stdlib ``ThreadingHTTPServer`` on ``127.0.0.1`` (a free port) and
serves the files under one directory by URL path (``/a/b`` -> ``ROOT/a/b``; no listings, so a
``.lindi.d`` is served as its files). GET and HEAD honour one ``Range: bytes=a-b``, ``bytes=a-``
or ``bytes=-n`` header: ``206`` with ``Content-Range: bytes a-b/TOTAL`` (the end clamped to the
file, as RFC 9110 says), ``416`` with ``Content-Range: bytes */TOTAL`` when the range starts at
or past the end, ``200`` with the whole file without a usable Range, and ``404`` for anything
that is not a file under the root.

Every response is logged in :attr:`RangeServer.requests` (with the query string and request
headers, so tests can see where an ``Authorization`` header went), so tests can assert what a
read cost. :meth:`RangeServer.misbehave` switches on faults for one path (optionally with its
query string) or for every path (the idea of fsspec's ``tests/conftest.py``): ignore Range,
send a wrong ``Content-Range``, truncate the body (or send a short one with a matching
``Content-Length``), force a status (with ``Retry-After``), fail N times then recover, reset
the connection, answer slowly or through a bandwidth cap. :meth:`RangeServer.redirect` makes a
path answer with a redirect (a fixed target, or a callable for a new target each time, as the
DANDI API hands out presigned URLs). :meth:`RangeServer.reset` clears the log and every switch.

Files are read by range from disk, so large benchmark files cost only the bytes served;
:attr:`RangeServer.body_bytes` counts the body bytes sent (benchmarks report it).
"""

from __future__ import annotations

import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urlsplit

__all__ = ["Misbehaviour", "RangeServer", "RequestRecord"]

_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
_WRITE_PIECE = 1 << 20


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One answered request."""

    method: str
    """``GET`` or ``HEAD``."""
    path: str
    """The URL path, e.g. ``/data.bin``."""
    range: str | None
    """The ``Range`` header as received, or None."""
    status: int
    """The status answered (0 for a connection reset without an answer)."""
    query: str = field(default="", compare=False)
    """The query string, without ``?``."""
    headers: dict[str, str] = field(default_factory=dict, compare=False)
    """The request headers."""
    client_port: int = field(default=0, compare=False)
    """The client's port: one per connection, so tests can see connection reuse."""


@dataclass(slots=True)
class Misbehaviour:
    """Fault switches for one path (or for all paths); all off by default."""

    ignore_range: bool = False
    """Answer 200 with the whole file, whatever Range asked for."""
    wrong_content_range: bool = False
    """Answer 206 with the right bytes but a ``Content-Range`` shifted by one byte."""
    truncate_body: bool = False
    """Send the full ``Content-Length`` header but only half the body, then close."""
    short_body: bool = False
    """Send only half the body, with a ``Content-Length`` to match (so headers disagree)."""
    status: int | None = None
    """Answer this status (with a short text body) instead of serving the file."""
    fail_times: int = 0
    """Answer ``fail_status`` to this many requests, then behave."""
    latency_s: float = 0.0
    """Sleep this long before answering."""
    fail_status: int = 500
    """The status of the ``fail_times`` failures."""
    retry_after: str | None = None
    """A ``Retry-After`` header sent with forced and failed statuses."""
    reset_times: int = 0
    """Reset this many connections (read the request, answer nothing, RST), then behave."""
    bandwidth_bytes_per_s: float | None = None
    """Send bodies no faster than this."""


def parse_range(header: str | None, total: int) -> tuple[int, int] | None:
    """Return ``(start, stop)`` (stop exclusive, clamped to ``total``) of one byte range.

    None means "serve the whole file" (no header, several ranges, or a malformed one: RFC 9110
    lets a server ignore those). ``start >= total`` means unsatisfiable (answer 416).
    """
    match = _RANGE_RE.fullmatch(header.strip()) if header else None
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # suffix range: the last n bytes
        n = int(last)
        return (total, total) if n == 0 else (max(total - n, 0), total)
    start = int(first)
    if last and int(last) < start:
        return None
    return start, min(int(last) + 1, total) if last else total


class _HTTPServer(ThreadingHTTPServer):
    owner: RangeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up (timeouts in tests); report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server and requests.Session do
    timeout = 10  # close idle keep-alive connections
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server: _HTTPServer
    _query = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request logging to stderr."""

    def do_GET(self) -> None:
        """Serve a file or a range of it."""
        self._serve(with_body=True)

    def do_HEAD(self) -> None:
        """Answer as GET would, without the body (or :attr:`RangeServer.head_status`, if set)."""
        status = self.server.owner.head_status
        if status is not None:
            self._query = urlsplit(self.path).query
            self._send(unquote(urlsplit(self.path).path), status, b"", {}, False, Misbehaviour())
            return
        self._serve(with_body=False)

    def _serve(self, *, with_body: bool) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        self._query = parts.query
        bad = owner._take(path, parts.query)
        if bad.latency_s:
            time.sleep(bad.latency_s)
        if bad.reset_times < 0:  # _take marks a reset with -1
            self._reset(path)
            return
        retry_after = {"Retry-After": bad.retry_after} if bad.retry_after else {}
        if bad.status is not None:
            self._send(path, bad.status, f"forced {bad.status}\n".encode(), retry_after, with_body, bad)
            return
        redirect = owner._redirects.get(path)
        if redirect is not None:
            location, status = redirect
            target = location() if callable(location) else location
            self._send(path, status, b"", {"Location": target}, with_body, bad)
            return
        total = owner._size(path)
        if total is None:
            self._send(path, 404, b"not found\n", {}, with_body, bad)
            return
        validators = owner._validators(path)
        byte_range = None if bad.ignore_range else parse_range(self.headers.get("Range"), total)
        if byte_range is None:
            self._send(path, 200, owner._load(path, 0, total), validators, with_body, bad)
            return
        start, stop = byte_range
        if start >= total:
            self._send(path, 416, b"", {"Content-Range": f"bytes */{total}"}, with_body, bad)
            return
        shift = 1 if bad.wrong_content_range else 0
        content_range = f"bytes {start + shift}-{stop - 1 + shift}/{total}"
        self._send(
            path, 206, owner._load(path, start, stop), {"Content-Range": content_range, **validators}, with_body, bad
        )

    def _record(self, path: str, status: int) -> None:
        self.server.owner._record(
            RequestRecord(
                self.command, path, self.headers.get("Range"), status,
                query=self._query, headers=dict(self.headers.items()), client_port=self.client_address[1],
            )
        )

    def _reset(self, path: str) -> None:
        """Drop the connection without an answer; SO_LINGER 0 makes close() send RST."""
        self._record(path, 0)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _send(
        self,
        path: str,
        status: int,
        body: bytes,
        headers: dict[str, str],
        with_body: bool,
        bad: Misbehaviour,
    ) -> None:
        self._record(path, status)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        for name, value in headers.items():
            self.send_header(name, value)
        if bad.short_body:
            body = body[: len(body) // 2]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not with_body:
            return
        if bad.truncate_body:
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        if bad.bandwidth_bytes_per_s:
            piece = 16 << 10
            for i in range(0, len(body), piece):
                self._write_counted(body[i:i + piece])
                time.sleep(min(piece, len(body) - i) / bad.bandwidth_bytes_per_s)
            return
        # In pieces, so that what a client reads before it hangs up is counted.
        view = memoryview(body)
        for i in range(0, len(body), _WRITE_PIECE):
            self._write_counted(view[i:i + _WRITE_PIECE])

    def _write_counted(self, piece: bytes | memoryview) -> None:
        # Counted before the write (and taken back if it fails): a client that has read the
        # whole body and then asks for the count must find these bytes in it.
        self.server.owner._count(len(piece))
        try:
            self.wfile.write(piece)
        except OSError:
            self.server.owner._count(-len(piece))
            raise


class RangeServer:
    """Serve ``root`` over HTTP on ``127.0.0.1``; see the module docstring.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        """The served directory."""
        self.requests: list[RequestRecord] = []
        """Every answered request, in order."""
        self.body_bytes = 0
        """Bytes of response bodies handed to the socket (the whole answers, or what a client
        read before it hung up, to within 1 MiB)."""
        self._lock = threading.Lock()
        self._everywhere = Misbehaviour()
        self._by_path: dict[str, Misbehaviour] = {}
        self._redirects: dict[str, tuple[str | Callable[[], str], int]] = {}
        self.send_validators = True
        """Send ``ETag`` and ``Last-Modified`` (from the file's mtime and size) with every file."""
        self.head_status: int | None = None
        """Answer every HEAD with this status (e.g. ``405``, or ``403`` as S3 does for a URL
        presigned for GET); None to answer HEAD as GET."""
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # shutdown() waits up to one poll interval
            name="test-http-server",
            daemon=True,
        )

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._httpd.server_address[1])

    def url(self, name: str = "") -> str:
        """Return the URL of ``name`` (a path relative to :attr:`root`)."""
        return f"http://127.0.0.1:{self.port}/{name.lstrip('/')}"

    def start(self) -> Self:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def misbehave(
        self,
        name: str | None = None,
        *,
        ignore_range: bool = False,
        wrong_content_range: bool = False,
        truncate_body: bool = False,
        short_body: bool = False,
        status: int | None = None,
        fail_times: int = 0,
        latency_s: float = 0.0,
        fail_status: int = 500,
        retry_after: str | None = None,
        reset_times: int = 0,
        bandwidth_bytes_per_s: float | None = None,
    ) -> None:
        """Set the faults of path ``name`` (relative to :attr:`root`), or of every path if None.

        ``name`` may end in ``?QUERY``: those switches apply only to requests with exactly that
        query string. A path's own switches replace the global ones for that path. See
        :class:`Misbehaviour`.
        """
        bad = Misbehaviour(
            ignore_range, wrong_content_range, truncate_body, short_body, status, fail_times,
            latency_s, fail_status, retry_after, reset_times, bandwidth_bytes_per_s,
        )
        with self._lock:
            if name is None:
                self._everywhere = bad
            else:
                self._by_path["/" + name.lstrip("/")] = bad

    def redirect(self, name: str, location: str | Callable[[], str], status: int = 302) -> None:
        """Make path ``name`` answer ``status`` with ``Location: location`` (called per request if callable)."""
        with self._lock:
            self._redirects["/" + name.lstrip("/")] = (location, status)

    def reset(self) -> None:
        """Clear the request log and every fault switch and redirect."""
        with self._lock:
            self.requests.clear()
            self.body_bytes = 0
            self._everywhere = Misbehaviour()
            self._by_path.clear()
            self._redirects.clear()

    def paths(self, method: str = "GET") -> list[str]:
        """Return the URL paths requested with ``method``, in order."""
        return [r.path for r in self.requests if r.method == method]

    def _take(self, path: str, query: str = "") -> Misbehaviour:
        """Return the faults for this request, counting down ``reset_times`` and ``fail_times``."""
        with self._lock:
            bad = self._by_path.get(f"{path}?{query}") or self._by_path.get(path, self._everywhere)
            if bad.reset_times > 0:
                bad.reset_times -= 1
                return replace(bad, reset_times=-1)
            if bad.fail_times > 0:
                bad.fail_times -= 1
                return replace(bad, status=bad.fail_status, fail_times=0)
            return replace(bad)

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def _count(self, nbytes: int) -> None:
        with self._lock:
            self.body_bytes += nbytes

    def _file(self, path: str) -> Path | None:
        root = self.root.resolve()
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return None
        return target

    def _size(self, path: str) -> int | None:
        target = self._file(path)
        return None if target is None else target.stat().st_size

    def _validators(self, path: str) -> dict[str, str]:
        """``ETag`` and ``Last-Modified`` of a file, as nginx makes them (mtime and size), if
        :attr:`send_validators` is on."""
        target = self._file(path)
        if not self.send_validators or target is None:
            return {}
        st = target.stat()
        return {
            "ETag": f'"{st.st_mtime_ns:x}-{st.st_size:x}"',
            "Last-Modified": formatdate(st.st_mtime, usegmt=True),
        }

    def _load(self, path: str, start: int, stop: int) -> bytes:
        target = self._file(path)
        assert target is not None
        with open(target, "rb") as fh:
            fh.seek(start)
            return fh.read(stop - start)
