"""A real HTTP server for tests: byte ranges, a request log, and misbehaviour on demand.

:class:`RangeServer` runs the stdlib ``ThreadingHTTPServer`` on ``127.0.0.1`` (a free port) and
serves the files under one directory by URL path (``/a/b`` -> ``ROOT/a/b``; no listings, so a
``.lindi.d`` is served as its files). GET and HEAD honour one ``Range: bytes=a-b``, ``bytes=a-``
or ``bytes=-n`` header: ``206`` with ``Content-Range: bytes a-b/TOTAL`` (the end clamped to the
file, as RFC 9110 says), ``416`` with ``Content-Range: bytes */TOTAL`` when the range starts at
or past the end, ``200`` with the whole file without a usable Range, and ``404`` for anything
that is not a file under the root.

Every response is logged in :attr:`RangeServer.requests`, so tests can assert what a read cost.
:meth:`RangeServer.misbehave` switches on faults for one path or for every path (the idea of
fsspec's ``tests/conftest.py``): ignore Range, send a wrong ``Content-Range``, truncate the
body (or send a short one with a matching ``Content-Length``), force a status, fail N times
then recover, or answer slowly. :meth:`RangeServer.reset` clears the log and every switch.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urlsplit

__all__ = ["Misbehaviour", "RangeServer", "RequestRecord"]

_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")


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
    """The status answered."""


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
    """Answer 500 to this many requests, then behave."""
    latency_s: float = 0.0
    """Sleep this long before answering."""


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

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request logging to stderr."""

    def do_GET(self) -> None:
        """Serve a file or a range of it."""
        self._serve(with_body=True)

    def do_HEAD(self) -> None:
        """Answer as GET would, without the body."""
        self._serve(with_body=False)

    def _serve(self, *, with_body: bool) -> None:
        owner = self.server.owner
        path = unquote(urlsplit(self.path).path)
        bad = owner._take(path)
        if bad.latency_s:
            time.sleep(bad.latency_s)
        if bad.status is not None:
            self._send(path, bad.status, f"forced {bad.status}\n".encode(), {}, with_body, bad)
            return
        data = owner._load(path)
        if data is None:
            self._send(path, 404, b"not found\n", {}, with_body, bad)
            return
        total = len(data)
        byte_range = None if bad.ignore_range else parse_range(self.headers.get("Range"), total)
        if byte_range is None:
            self._send(path, 200, data, {}, with_body, bad)
            return
        start, stop = byte_range
        if start >= total:
            self._send(path, 416, b"", {"Content-Range": f"bytes */{total}"}, with_body, bad)
            return
        shift = 1 if bad.wrong_content_range else 0
        content_range = f"bytes {start + shift}-{stop - 1 + shift}/{total}"
        self._send(path, 206, data[start:stop], {"Content-Range": content_range}, with_body, bad)

    def _send(
        self,
        path: str,
        status: int,
        body: bytes,
        headers: dict[str, str],
        with_body: bool,
        bad: Misbehaviour,
    ) -> None:
        self.server.owner._record(
            RequestRecord(self.command, path, self.headers.get("Range"), status)
        )
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
        self.wfile.write(body)


class RangeServer:
    """Serve ``root`` over HTTP on ``127.0.0.1``; see the module docstring.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        """The served directory."""
        self.requests: list[RequestRecord] = []
        """Every answered request, in order."""
        self._lock = threading.Lock()
        self._everywhere = Misbehaviour()
        self._by_path: dict[str, Misbehaviour] = {}
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
    ) -> None:
        """Set the faults of path ``name`` (relative to :attr:`root`), or of every path if None.

        A path's own switches replace the global ones for that path. See :class:`Misbehaviour`.
        """
        bad = Misbehaviour(
            ignore_range, wrong_content_range, truncate_body, short_body, status, fail_times,
            latency_s,
        )
        with self._lock:
            if name is None:
                self._everywhere = bad
            else:
                self._by_path["/" + name.lstrip("/")] = bad

    def reset(self) -> None:
        """Clear the request log and every fault switch."""
        with self._lock:
            self.requests.clear()
            self._everywhere = Misbehaviour()
            self._by_path.clear()

    def paths(self, method: str = "GET") -> list[str]:
        """Return the URL paths requested with ``method``, in order."""
        return [r.path for r in self.requests if r.method == method]

    def _take(self, path: str) -> Misbehaviour:
        """Return the faults for this request, counting down ``fail_times``."""
        with self._lock:
            bad = self._by_path.get(path, self._everywhere)
            if bad.fail_times > 0:
                bad.fail_times -= 1
                return replace(bad, status=500, fail_times=0)
            return replace(bad)

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def _load(self, path: str) -> bytes | None:
        root = self.root.resolve()
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return None
        return target.read_bytes()
