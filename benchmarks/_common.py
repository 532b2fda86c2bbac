"""Shared helpers of the benchmarks: arguments, anchors, fresh-process timing, a Range server
with latency, and the common JSON / Markdown result.

Every benchmark is ``benchmarks/bench_<name>.py``, run as
``python benchmarks/bench_<name>.py --workdir DIR --json OUT.json [--quick]``
(``benchmarks/run.sh`` runs them all). A typical one::

    from _common import Report, anchor, parse_args, run_fresh

    args = parse_args("what this benchmark measures")     # --workdir, --json, --quick
    report = Report("example", process_state="every tool in a fresh process, timed after imports")
    lindi = anchor("lindi")                                # $HDMF_LINDI_BENCH_LINDI_PYTHON or None
    ours = run_fresh(sys.executable, OURS_SCRIPT, [path], repeat=3)
    report.add("case", "ours", measured=ours)
    if lindi.python is None:
        report.unavailable("case", lindi)                  # a row saying why, never a crash
    else:
        report.add("case", "lindi", measured=run_fresh(lindi.python, LINDI_SCRIPT, [path]))
        report.ratio("case", "ours", "lindi")              # ours.seconds / lindi.seconds
    report.finish(args.json)                               # prints the table, writes the JSON

API
---
``parse_args(description, argv=None, add=None)``
    The common arguments (``--workdir``, default ``benchmarks/results/work``; ``--json``;
    ``--quick``) plus whatever ``add(parser)`` adds. Creates the workdir.
``anchor(kind)`` -> :class:`Anchor`
    ``kind`` is one of :data:`ANCHOR_VARS` (``lindi``, ``hdmf_zarr``, ``lazynwb``, ``kerchunk``;
    ``kerchunk`` falls back to the lindi interpreter, which holds kerchunk too). An unset
    variable or a path that is not a file gives ``python=None`` and ``why``.
``run_fresh(python, script, args=(), repeat=1, timeout=900, env=None)`` -> dict
    Runs ``python -c script *args`` ``repeat`` times, each in a new process; the script prints
    one JSON object with ``"seconds"`` (measured by itself, after its imports) as its last
    line. Returns the best run's object, or ``{"error": "..."}``. For our own interpreter
    ``PYTHONPATH`` includes the repository, so ``import hdmf_lindi`` works.
``best_of(func, repeat, number=1)`` -> float
    Best mean seconds of ``number`` in-process calls over ``repeat`` rounds.
:class:`ServerProcess` (a context manager)
    ``tests/httpserver.py``'s RangeServer in a child process (so it never takes our GIL):
    ``url(name)``, ``set(latency_s=0.0, bandwidth_bytes_per_s=None)``, ``clear()``,
    ``traffic()`` -> :class:`Traffic` (requests, ranged body bytes, GETs without a Range and
    the body bytes handed to the socket for them).
:class:`Report`
    ``add(case, tool, seconds=, requests=, bytes=, ratio=, note=, measured=)``,
    ``unavailable(case, anchor)``, ``ratio(case, tool, against, field="seconds")``,
    ``note(text)``, ``markdown()``, ``to_json()``, ``finish(path)``.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_WORKDIR = RESULTS / "work"

ANCHOR_VARS = {
    "lindi": "HDMF_LINDI_BENCH_LINDI_PYTHON",
    "hdmf_zarr": "HDMF_LINDI_BENCH_HDMF_ZARR_PYTHON",
    "lazynwb": "HDMF_LINDI_BENCH_LAZYNWB_PYTHON",
    "kerchunk": "HDMF_LINDI_BENCH_KERCHUNK_PYTHON",
}
"""Anchor kind -> the environment variable naming its interpreter."""

ROW_FIELDS = ("case", "tool", "seconds", "requests", "bytes", "ratio", "note")


# ---------------------------------------------------------------------------- arguments
def parse_args(
    description: str,
    argv: Sequence[str] | None = None,
    add: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """Parse ``--workdir DIR --json OUT [--quick]`` and the benchmark's own arguments."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--workdir", type=Path, default=DEFAULT_WORKDIR,
        help="build and cache inputs here (default: benchmarks/results/work)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--quick", action="store_true", help="small inputs, one repeat (~1-2 min)")
    if add is not None:
        add(parser)
    args = parser.parse_args(argv)
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    return args


# ---------------------------------------------------------------------------- anchors
@dataclass(frozen=True)
class Anchor:
    """An anchor tool's interpreter, or why there is none."""

    kind: str
    python: str | None
    why: str = ""

    @property
    def available(self) -> bool:
        return self.python is not None


def anchor(kind: str, environ: dict[str, str] | None = None) -> Anchor:
    """Return the interpreter of anchor ``kind`` from its environment variable.

    Raises
    ------
    KeyError
        If ``kind`` is not one of :data:`ANCHOR_VARS`.
    """
    env = os.environ if environ is None else environ
    var = ANCHOR_VARS[kind]
    value = env.get(var, "").strip()
    if not value and kind == "kerchunk":
        value = env.get(ANCHOR_VARS["lindi"], "").strip()
        var = f"{var} (or {ANCHOR_VARS['lindi']})"
    if not value:
        return Anchor(kind, None, f"not available: ${var} is not set")
    if not Path(value).is_file():
        return Anchor(kind, None, f"not available: ${var}={value} is not a file")
    return Anchor(kind, value)


# ---------------------------------------------------------------------------- timing
def best_of(func: Callable[[], Any], repeat: int, number: int = 1) -> float:
    """Return the best mean time, in seconds, of ``number`` calls over ``repeat`` rounds."""
    best = math.inf
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def run_fresh(
    python: str,
    script: str,
    args: Sequence[str] = (),
    *,
    repeat: int = 1,
    timeout: float = 900.0,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``script`` in ``repeat`` new processes; return the best run's JSON (or an error)."""
    ours = os.path.abspath(python) == os.path.abspath(sys.executable)
    paths = [str(REPO) if ours else "", os.environ.get("PYTHONPATH", "")]
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    best: dict[str, Any] | None = None
    for _ in range(max(repeat, 1)):
        try:
            proc = subprocess.run(
                [python, "-c", script, *args], capture_output=True, text=True,
                timeout=timeout, check=False, env=full_env,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"did not finish in {timeout:.0f} s"}
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return {"error": f"failed (exit {proc.returncode}): {last[:300]}"}
        try:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            return {"error": f"no JSON result in its output: {proc.stdout[-300:]!r}"}
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    assert best is not None
    return best


# ---------------------------------------------------------------------------- HTTP server
@dataclass(frozen=True)
class Traffic:
    """What the server answered since the last :meth:`ServerProcess.clear`."""

    requests: int
    """Requests answered (any method, any status)."""
    bytes: int
    """Body bytes of ranged (206) answers."""
    unranged_gets: int
    """GETs without a Range header (whole-file answers, or size probes)."""
    unranged_bytes: int
    """Body bytes of other answers handed to the socket; a client that hangs up after the
    headers (lindi's size probe) may have read far less."""


class ServerProcess:
    """``tests/httpserver.py``'s RangeServer serving ``root``, in a child process."""

    def __init__(self, root: Path) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(Path(root), child), daemon=True)
        self._proc.start()
        self.port: int = self._conn.recv()

    def _call(self, command: str, arg: Any = None) -> Any:
        self._conn.send((command, arg))
        return self._conn.recv()

    def url(self, name: str) -> str:
        """The URL of ``name``, relative to the served folder."""
        return f"http://127.0.0.1:{self.port}/{name.lstrip('/')}"

    def set(self, latency_s: float = 0.0, bandwidth_bytes_per_s: float | None = None) -> None:
        """Sleep ``latency_s`` before every answer; cap each answer's rate if given."""
        self._call("set", {"latency_s": latency_s, "bandwidth_bytes_per_s": bandwidth_bytes_per_s})

    def clear(self) -> None:
        """Forget the requests counted so far."""
        self._call("clear")

    def traffic(self) -> Traffic:
        """Requests and body bytes since the last :meth:`clear`."""
        return Traffic(*self._call("traffic"))

    def stop(self) -> None:
        """Stop the server and its process."""
        if self._proc.is_alive():
            self._call("stop")
        self._proc.join(timeout=10)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve(root: Path, conn: Connection) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from httpserver import RangeServer, parse_range

    with RangeServer(root) as server:
        conn.send(server.port)
        while True:
            command, arg = conn.recv()
            answer: Any = None
            if command == "set":
                server.misbehave(**arg)
            elif command == "clear":
                with server._lock:
                    server.requests.clear()
                    server.body_bytes = 0
            elif command == "traffic":
                with server._lock:
                    records, sent = list(server.requests), server.body_bytes
                ranged = 0
                for r in records:
                    total = server._size(r.path) if r.status == 206 and r.method == "GET" else None
                    span = None if total is None else parse_range(r.range, total)
                    if span is not None:
                        ranged += span[1] - span[0]
                unranged = sum(1 for r in records if r.method == "GET" and r.range is None)
                answer = (len(records), ranged, unranged, max(sent - ranged, 0))
            elif command == "stop":
                conn.send(None)
                return
            conn.send(answer)


# ---------------------------------------------------------------------------- results
@dataclass
class Row:
    """One measured (or unavailable) tool on one case."""

    case: str
    tool: str
    seconds: float | None = None
    requests: int | None = None
    bytes: int | None = None
    ratio: float | None = None
    note: str = ""


@dataclass
class Report:
    """The rows of one benchmark, printed as Markdown and written as the common JSON."""

    benchmark: str
    process_state: str = ""
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.process_state:
            self.notes.insert(0, f"process state: {self.process_state}")

    def add(
        self,
        case: str,
        tool: str,
        seconds: float | None = None,
        requests: int | None = None,
        bytes: int | None = None,  # noqa: A002 - the JSON field's name
        ratio: float | None = None,
        note: str = "",
        measured: dict[str, Any] | None = None,
    ) -> Row:
        """Add a row; ``measured`` (a :func:`run_fresh` result) fills seconds or the error."""
        if measured is not None:
            if "error" in measured:
                note = "; ".join(x for x in (note, str(measured["error"])) if x)
            elif seconds is None:
                seconds = float(measured["seconds"])
        row = Row(case, tool, seconds, requests, bytes, ratio, note)
        self.rows.append(row)
        return row

    def unavailable(self, case: str, missing: Anchor, tool: str | None = None) -> Row:
        """Add a row for an anchor that is not available, saying why."""
        return self.add(case, tool or missing.kind, note=missing.why)

    def find(self, case: str, tool: str) -> Row | None:
        """The last row of ``tool`` on ``case``, if any."""
        for row in reversed(self.rows):
            if row.case == case and row.tool == tool:
                return row
        return None

    def ratio(self, case: str, tool: str, against: str, field: str = "seconds") -> float | None:
        """Set ``tool``'s ratio on ``case`` to its ``field`` over ``against``'s (both measured)."""
        row, base = self.find(case, tool), self.find(case, against)
        if row is None or base is None:
            return None
        a, b = getattr(row, field), getattr(base, field)
        if a is None or not b:
            return None
        row.ratio = a / b
        what = f"ratio = {field} / {against}'s"
        row.note = f"{row.note}; {what}" if row.note else what
        return row.ratio

    def note(self, text: str) -> None:
        """Add a note printed under the table."""
        self.notes.append(text)

    def to_json(self) -> dict[str, Any]:
        """The common schema: ``{"benchmark", "rows": [...], "notes": [...]}``."""
        return {
            "benchmark": self.benchmark,
            "rows": [asdict(row) for row in self.rows],
            "notes": list(self.notes),
        }

    def markdown(self) -> str:
        """The rows as a Markdown table, then the notes."""
        return markdown_table(self.to_json())

    def finish(self, path: Path | None) -> None:
        """Print the table; write the JSON to ``path`` if given."""
        print(self.markdown(), flush=True)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.to_json(), indent=2) + "\n")


def _cell(name: str, value: Any) -> str:
    if value is None:
        return "—"
    if name == "seconds":
        return f"{value:.4g}"
    if name == "ratio":
        return f"**{value:.3f}**"
    if name in ("requests", "bytes"):
        return f"{value:,}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(result: dict[str, Any], heading: str | None = None) -> str:
    """Render one benchmark's JSON result (the common schema) as Markdown."""
    lines = [f"### {heading or result['benchmark']}", ""]
    lines.append("| " + " | ".join(ROW_FIELDS) + " |")
    lines.append("|" + "---|" * len(ROW_FIELDS))
    for row in result["rows"]:
        lines.append("| " + " | ".join(_cell(k, row.get(k)) for k in ROW_FIELDS) + " |")
    if result.get("notes"):
        lines.append("")
        lines.extend(f"* {note}" for note in result["notes"])
    return "\n".join(lines) + "\n"


def iter_rows(result: dict[str, Any]) -> Iterator[Row]:
    """The rows of a JSON result as :class:`Row` objects (checks the fields)."""
    for raw in result["rows"]:
        missing = set(ROW_FIELDS) - set(raw)
        if missing:
            raise ValueError(f"row {raw} of {result.get('benchmark')} lacks {sorted(missing)}")
        yield Row(**{k: raw[k] for k in ROW_FIELDS})
