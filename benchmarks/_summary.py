"""Gather the benchmarks' JSON results into ``latest.md`` and ``latest.json``, with the date,
the git commit, the versions of every tool involved and the machine's facts.

Run by ``benchmarks/run.sh`` after the benchmarks::

    python benchmarks/_summary.py --results benchmarks/results --failed NAME... -- NAME...
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import ANCHOR_VARS, REPO, anchor, markdown_table

DISTRIBUTIONS = (
    "hdmf-lindi", "h5py", "numpy", "numcodecs", "zarr", "pynwb", "hdmf", "lindi", "kerchunk",
    "remfile", "fsspec", "hdmf-zarr", "lazynwb",
)

VERSIONS_SCRIPT = r"""
import json, sys
sys.path = [p for p in sys.path if p not in ("", ".")]  # not the repository's egg-info
from importlib.metadata import PackageNotFoundError, version
out = {"python": sys.version.split()[0]}
for name in sys.argv[1:]:
    try:
        out[name] = version(name)
    except PackageNotFoundError:
        pass
try:
    import h5py
    out["HDF5"] = h5py.version.hdf5_version
except Exception:
    pass
print(json.dumps(out))
"""


def versions_in(python: str) -> dict[str, str]:
    """The versions of :data:`DISTRIBUTIONS` (and HDF5) installed for ``python``."""
    try:
        proc = subprocess.run(
            [python, "-c", VERSIONS_SCRIPT, *DISTRIBUTIONS], capture_output=True, text=True,
            timeout=120, check=False,
        )
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    except (OSError, subprocess.TimeoutExpired, IndexError, json.JSONDecodeError) as exc:
        return {"error": str(exc)}


def _meminfo_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, OS, and the load average now."""
    return {
        "cores": os.cpu_count(),
        "memory_gib": _meminfo_gib(),
        "cpu": _cpu_model(),
        "os": platform.platform(),
        "load_average_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _git(*args: str) -> str:
    proc = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                          check=False)
    return proc.stdout.strip()


def environments() -> dict[str, dict[str, str]]:
    """Versions in our interpreter and in each available anchor's."""
    found = {"ours (.venv)": versions_in(sys.executable)}
    for kind, var in ANCHOR_VARS.items():
        if kind == "kerchunk" and not os.environ.get(var):
            continue  # kerchunk lives in the lindi environment unless told otherwise
        a = anchor(kind)
        found[f"{kind} (${var})"] = (
            versions_in(a.python) if a.python else {"not available": a.why}
        )
    return found


def render(summary: dict[str, Any]) -> str:
    lines = [
        f"# Benchmark results, {summary['date']}",
        "",
        f"Command: `{summary['command']}`  ",
        f"Commit: `{summary['commit']}`{' (with uncommitted changes)' if summary['dirty'] else ''}  ",
        f"Started {summary['started']}, finished {summary['finished']}",
        "",
        "## Machine",
        "",
    ]
    m = summary["machine"]
    lines += [
        f"{m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, {m['os']}; load average "
        f"{summary['load_before']} before, {m['load_average_after']} after.",
        "",
        "## Versions",
        "",
        "| environment | versions |",
        "|---|---|",
    ]
    for env, versions in summary["versions"].items():
        text = ", ".join(f"{k} {v}" for k, v in versions.items())
        lines.append(f"| {env} | {text} |")
    lines += ["", "## Results", ""]
    for name in summary["benchmarks"]:
        result = summary["results"].get(name)
        if result is None:
            lines += [f"### {name}", "", "**failed: no result** (see its log)", ""]
            continue
        failed = " (**exited non-zero**; rows as written)" if name in summary["failed"] else ""
        lines.append(markdown_table(result, heading=name + failed))
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--started", default="")
    parser.add_argument("--load-before", default="")
    parser.add_argument("--command", default="bash benchmarks/run.sh")
    parser.add_argument("--failed", nargs="*", default=[])
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for name in args.names:
        path = args.results / f"{name}.json"
        if path.exists():
            results[name] = json.loads(path.read_text())
    summary = {
        "date": datetime.date.today().isoformat(),
        "started": args.started,
        "finished": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(args.command.split()),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "machine": machine(),
        "load_before": args.load_before,
        "versions": environments(),
        "benchmarks": list(args.names),
        "failed": list(args.failed),
        "results": results,
    }
    (args.results / "latest.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = render(summary)
    (args.results / "latest.md").write_text(text)
    print(text)
    print(f"written: {args.results / 'latest.md'}, {args.results / 'latest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
