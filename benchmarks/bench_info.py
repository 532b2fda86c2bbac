"""``hdmf-lindi info`` on large indexes: the whole command, against opening the same index.

Usage::

    python benchmarks/bench_info.py --workdir DIR --json OUT.json [--quick]

Inputs (written into ``--workdir`` by this script, as LINDI JSON documents):

* ``meta``: a metadata-heavy index, 2,000 groups of two small datasets each (16,003
  references), like an NWB file with 2,000 TimeSeries;
* ``refs_1e6``: 10 arrays of 100,000 external chunk references each (10^6 references; 10^5
  with ``--quick``).

Each case runs ``main(["info", FILE])`` in this process (imports done) against opening the
same index in this process, then ``python -m hdmf_lindi info FILE`` (stdout to /dev/null)
against ``python -c "hdmf_lindi.File(FILE).close()"`` (interpreter start, imports and parsing
the JSON) in fresh processes; best of ``--repeat`` each. ``ratio`` is info / open: what
printing the tree and the chunk summary adds to reading the index. Issue 19's targets: ``meta`` <= 0.5 s, ``refs_1e6`` <= 5 s
(it took 9.7-11 s on the 16k-reference corpus index before the summary became linear).
There is no anchor tool: lindi has no ``info``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _zarray(n: int, chunk: int) -> dict[str, Any]:
    return {
        "zarr_format": 2, "shape": [n], "chunks": [chunk], "dtype": "<i4", "compressor": None,
        "fill_value": 0, "filters": None, "order": "C",
    }


def metadata_heavy(groups: int) -> dict[str, Any]:
    refs: dict[str, Any] = {".zgroup": {"zarr_format": 2}, ".zattrs": {"nwb_version": "2.7.0"}}
    refs["processing/.zgroup"] = {"zarr_format": 2}
    for g in range(groups):
        path = f"processing/series{g:05d}"
        refs[f"{path}/.zgroup"] = {"zarr_format": 2}
        refs[f"{path}/.zattrs"] = {"neurodata_type": "TimeSeries", "namespace": "core"}
        for name in ("data", "timestamps"):
            refs[f"{path}/{name}/.zarray"] = _zarray(100, 100)
            refs[f"{path}/{name}/.zattrs"] = {"unit": "s"}
            refs[f"{path}/{name}/0"] = ["https://example.org/session.nwb", 4096 + 400 * g, 400]
    return {"version": 1, "refs": refs}


def many_references(arrays: int, chunks: int) -> dict[str, Any]:
    refs: dict[str, Any] = {".zgroup": {"zarr_format": 2}}
    for a in range(arrays):
        refs[f"array{a}/.zarray"] = _zarray(chunks * 10, 10)
        refs[f"array{a}/.zattrs"] = {}
        for c in range(chunks):
            refs[f"array{a}/{c}"] = ["https://example.org/big.nwb", 4096 + 40 * c, 40]
    return {"version": 1, "refs": refs}


def _best(argv: list[str], repeat: int) -> float:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env, timeout=600)
        best = min(best, time.perf_counter() - start)
    return best


def _best_in_process(path: Path, repeat: int) -> tuple[float, float, float]:
    """Best seconds of ``main(["info", path])`` and of opening the index, in this process, and
    the CPU seconds of the best info run (on a shared machine, wall time includes waiting)."""
    import contextlib
    import io

    sys.path.insert(0, str(ROOT))
    import hdmf_lindi
    from hdmf_lindi.cli import main as cli_main

    info = opened = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli_main(["info", str(path)]) == 0
        if time.perf_counter() - start < info:
            info, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        start = time.perf_counter()
        hdmf_lindi.File(path).close()
        opened = min(opened, time.perf_counter() - start)
    return info, opened, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="where the indexes are written")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--quick", action="store_true", help="10^5 instead of 10^6 references, best of 1")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs of each command")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    repeat = 1 if args.quick else args.repeat
    big = 10_000 if args.quick else 100_000
    cases = {
        "meta_16k": (metadata_heavy(2000), 0.5),
        f"refs_{10 * big:.0e}".replace("+0", ""): (many_references(10, big), 5.0),
    }
    rows: list[dict[str, Any]] = []
    for case, (doc, target) in cases.items():
        path = args.workdir / f"{case}.lindi.json"
        path.write_text(json.dumps(doc))
        n = len(doc["refs"])
        info = _best([sys.executable, "-m", "hdmf_lindi", "info", str(path)], repeat)
        floor = _best([sys.executable, "-c", f"import hdmf_lindi; hdmf_lindi.File({str(path)!r}).close()"], repeat)
        note = f"{n:,} references, target <= {target} s"
        warm_info, warm_open, cpu = _best_in_process(path, repeat)
        rows.append({"case": case, "tool": "info, in process", "seconds": warm_info, "requests": None,
                     "bytes": path.stat().st_size, "ratio": warm_info / warm_open,
                     "note": note + f" (imports done: the command's own work; {cpu:.2f} s CPU)"})
        rows.append({"case": case, "tool": "open only, in process", "seconds": warm_open, "requests": None,
                     "bytes": path.stat().st_size, "ratio": None, "note": "JSON parse and validation"})
        rows.append({"case": case, "tool": "hdmf-lindi info (command)", "seconds": info, "requests": None,
                     "bytes": path.stat().st_size, "ratio": info / floor, "note": note})
        rows.append({"case": case, "tool": "open only (command)", "seconds": floor, "requests": None,
                     "bytes": path.stat().st_size, "ratio": None, "note": "python start, imports, JSON parse"})
    print("| case | tool | seconds | ratio | note |\n|---|---|---|---|---|")
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"| {r['case']} | {r['tool']} | {r['seconds']:.2f} | {ratio} | {r['note']} |")
    notes = [f"best of {repeat}; ratio = info / open-only of the same index, measured the same way"]
    if args.json is not None:
        args.json.write_text(json.dumps({"benchmark": "info", "rows": rows, "notes": notes}, indent=1))


if __name__ == "__main__":
    main()
