"""Million-chunk datasets: compact chunk tables against today's flat JSON and the anchors.

Corpus (written into ``--workdir``, never committed; ``--quick`` divides the chunk counts by 10
and the slices by 3):

* ``gzip``: ``/x`` (1000, 64000) int16, chunks (1, 64), gzip: 10^6 chunks of varied size;
  the slice reads rows 0-29 (30,000 chunks, one shard);
* ``raw``: ``/x`` (10^6, 4) int16, chunks (1, 4), uncompressed: 10^6 fixed-size chunks; the slice
  reads rows 0-29,999 (as in the issue's measurement).

Each is indexed (locally, chunk references pointing at the served ``.h5`` URL) twice by us: with
compact tables (``.lindi.tar``: the table is a tar member; ``.lindi.json``: inline base64) and
without (``chunk_table_threshold=None``: today's flat JSON). The tests' Range server
(``_common.ServerProcess``, a child process) adds ``--latency-ms`` to every answer and counts
requests (any method) and body bytes. Rows:

* ``<corpus> open``: ``hdmf_lindi.File(url)`` and the dataset's shape (requests, bytes, time);
* ``<corpus> open+slice``: open and read the slice, for ours and each anchor;
* ``<corpus> local open``: open an index of the local file and read the shape (time, RSS growth
  in ``bytes``); ``local slice``: then read the slice (the shard it loads, the data, and the
  reader's chunk cache).

Every tool, ours included, runs in a fresh process per run, timed by itself after its imports
(best of ``--repeat``); ours reports its open and its slice apart (it waits for the server's
counts in between, outside both timings). Anchors, in the same run, from the python of
``HDMF_LINDI_BENCH_LINDI_PYTHON`` (kerchunk: ``HDMF_LINDI_BENCH_KERCHUNK_PYTHON``, else that
one), "not available" when unset:

* today's flat JSON (ours, tables disabled);
* ``lindi``: lindi 0.4.6 ``LindiH5pyFile.from_hdf5_file(h5_url)`` with its default threshold
  (> 1000 chunks become an external link read through h5py on the remote HDF5);
* ``lindi (no threshold)``: a ``.lindi.json`` written by lindi with
  ``num_dataset_chunks_threshold=None`` (every chunk a JSON reference), served, read with
  ``LindiH5pyFile.from_lindi_file(url)``. lindi fetches one chunk per request, one after the
  other, so the slice is read in 30 parts and stopped after ``--cap-s`` seconds: a stopped run
  reports the rows it read and a lower bound, never a ratio;
* ``kerchunk parquet``: kerchunk's references (``SingleHdf5ToZarr`` then ``refs_to_dataframe``:
  parquet files), served, read through fsspec's ``ReferenceFileSystem`` over HTTP and zarr 2;
* ``remfile``: h5py + remfile on the HDF5 itself.

The indexes of the anchors are made before the timed runs (not timed; their time is a note).
``ratio`` is ours / that row's time (below 1: ours faster); ``open+slice`` rows of ours compare
with the fastest anchor that read the whole slice.

Usage::

    python benchmarks/bench_chunk_tables.py --workdir DIR --json OUT.json [--quick]
        [--latency-ms 20 50] [--repeat N] [--cap-s S]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from _common import REPO, Anchor, Report, ServerProcess, Traffic, anchor, parse_args, run_fresh

import hdmf_lindi
from hdmf_lindi.hdf5.indexer import IndexOptions, index_hdf5

OURS = ("ours tar", "ours json", "flat json")

# Ours, in a fresh process: open, say so and wait (the parent reads the server's counts), slice.
OURS_DRIVER = r"""
import json, sys, time
import hdmf_lindi, numpy
url, rows = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
f = hdmf_lindi.File(url)
shape = f["x"].shape
opened = time.perf_counter() - t0
print("opened", flush=True)
sys.stdin.readline()
t1 = time.perf_counter()
x = f["x"][:rows]
sliced = time.perf_counter() - t1
print(json.dumps({"open": opened, "slice": sliced, "checksum": int(x.astype("int64").sum())}))
"""

# Anchor indexes, in the anchor's python: argv = tool, local h5, url of the served h5, output.
PREPARE_DRIVER = r"""
import json, sys, time
tool, h5, url, out = sys.argv[1:5]
t0 = time.perf_counter()
if tool == "lindi (no threshold)":
    import lindi
    opts = lindi.LindiH5ZarrStoreOpts(num_dataset_chunks_threshold=None)
    lindi.LindiH5pyFile.from_hdf5_file(h5, url=url, zarr_store_opts=opts).write_lindi_file(out)
else:
    from kerchunk.df import refs_to_dataframe
    from kerchunk.hdf import SingleHdf5ToZarr
    with open(h5, "rb") as fh:
        refs = SingleHdf5ToZarr(fh, url=url, inline_threshold=0).translate()
    refs_to_dataframe(refs, out)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""

# Anchors' reads: argv = tool, url, rows, cap (seconds; used by lindi without threshold only).
ANCHOR_DRIVER = r"""
import json, sys, time
tool, url, rows, cap = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
import h5py
if tool == "lindi":
    import lindi
    t0 = time.perf_counter()
    x = lindi.LindiH5pyFile.from_hdf5_file(url)["x"][:rows]
elif tool == "remfile":
    import remfile
    t0 = time.perf_counter()
    x = h5py.File(remfile.File(url), "r")["x"][:rows]
elif tool == "kerchunk parquet":
    import fsspec, zarr
    t0 = time.perf_counter()
    fs = fsspec.filesystem("reference", fo=url, remote_protocol="http", target_protocol="http")
    x = zarr.open_array(fs.get_mapper("x"), mode="r")[:rows]
else:  # lindi (no threshold): one request per chunk, one after the other; stopped at the cap
    import lindi
    t0 = time.perf_counter()
    d = lindi.LindiH5pyFile.from_lindi_file(url)["x"]
    step = -(-rows // 30)
    # a single row of many chunks is read in 10 pieces, so that the cap is checked often enough
    pieces = 10 if step == 1 and d.shape[1] // d.chunks[1] >= 10 else 1
    width = -(-d.shape[1] // pieces)
    parts, done, elements = [], 0, 0
    while done < rows and time.perf_counter() - t0 < cap:
        block = [d[done:min(rows, done + step), c:c + width] for c in range(0, d.shape[1], width)
                 if time.perf_counter() - t0 < cap]
        elements += sum(b.size for b in block)
        if len(block) < pieces:
            break
        parts.extend(block)
        done += block[0].shape[0]
    seconds = time.perf_counter() - t0
    total = sum(int(p.astype("int64").sum()) for p in parts)
    fraction = elements / (rows * d.shape[1])
    print(json.dumps({"seconds": seconds, "rows": done, "fraction": fraction, "checksum": total}))
    raise SystemExit(0)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rows": rows, "checksum": int(x.astype("int64").sum())}))
"""

LOCAL_DRIVER = r"""
import json, sys, time
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096
import hdmf_lindi, numpy
path, start, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
before = rss()
t0 = time.perf_counter()
f = hdmf_lindi.File(path)
shape = f["x"].shape
opened = time.perf_counter() - t0
after_open = rss()
t1 = time.perf_counter()
x = f["x"][start:stop]
sliced = time.perf_counter() - t1
print(json.dumps({"seconds": opened + sliced, "open": opened, "slice": sliced, "open_rss": after_open - before,
                  "slice_rss": rss() - after_open, "checksum": int(x.astype("int64").sum())}))
"""


# ---------------------------------------------------------------------- corpus
def make_corpus(workdir: Path, quick: bool) -> dict[str, tuple[Path, int]]:
    """Write the two HDF5 files (if missing); return name -> (path, rows of the slice)."""
    scale = 10 if quick else 1
    out: dict[str, tuple[Path, int]] = {}
    gzip_path = workdir / f"gzip{'_quick' if quick else ''}.h5"
    if not gzip_path.exists():
        rng = np.random.default_rng(0)
        rows = 1000 // scale
        data = np.cumsum(rng.integers(-3, 4, (rows, 64000), dtype=np.int16), axis=1, dtype=np.int16)
        with h5py.File(gzip_path, "w") as f:
            f.create_dataset("x", data=data, chunks=(1, 64), compression="gzip")
    out["gzip"] = (gzip_path, 30 // (3 if quick else 1))
    raw_path = workdir / f"raw{'_quick' if quick else ''}.h5"
    if not raw_path.exists():
        with h5py.File(raw_path, "w") as f:
            f.create_dataset("x", data=np.arange(4 * 10**6 // scale, dtype=np.int16).reshape(-1, 4), chunks=(1, 4))
    out["raw"] = (raw_path, 30_000 // (3 if quick else 1))
    return out


# ---------------------------------------------------------------------- measurements
def _sent(t: Traffic) -> int:
    """Body bytes: ranged answers plus whatever GETs without Range were handed."""
    return t.bytes + t.unranged_bytes


def ours_fresh(server: ServerProcess, url: str, rows: int, repeat: int) -> dict[str, Any]:
    """Open, then slice, in a fresh process per run: times and traffic of each phase (best run)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    best: dict[str, Any] | None = None
    for _ in range(max(repeat, 1)):
        server.clear()
        proc = subprocess.Popen([sys.executable, "-c", OURS_DRIVER, url, str(rows)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert proc.stdin is not None and proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "opened":
            _, err = proc.communicate()
            raise SystemExit(f"ours failed to open {url}: {err.strip()[-400:]}")
        opened = server.traffic()
        server.clear()
        out, err = proc.communicate("go\n", timeout=900)
        if proc.returncode != 0:
            raise SystemExit(f"ours failed to read {url}: {err.strip()[-400:]}")
        result = json.loads(out.strip().splitlines()[-1])
        result["open_traffic"], result["slice_traffic"] = opened, server.traffic()
        if best is None or result["open"] + result["slice"] < best["open"] + best["slice"]:
            best = result
    assert best is not None
    return best


def anchor_run(python: str, tool: str, server: ServerProcess, url: str, rows: int, repeat: int,
               cap: float) -> dict[str, Any]:
    """An anchor's best run (fresh process each), with the server's counts, or ``{"error"}``."""
    best: dict[str, Any] | None = None
    for _ in range(max(repeat, 1)):
        server.clear()
        result = run_fresh(python, ANCHOR_DRIVER, [tool, url, str(rows), str(cap)])
        if "error" in result:
            return result
        result["traffic"] = server.traffic()
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    assert best is not None
    return best


def prepare_anchor(python: str, tool: str, h5: Path, h5_url: str, out: Path) -> dict[str, Any]:
    """Write an anchor's index of ``h5`` (references to ``h5_url``) at ``out``."""
    if out.is_dir():
        shutil.rmtree(out)
    elif out.exists():
        out.unlink()
    return run_fresh(python, PREPARE_DRIVER, [tool, str(h5), h5_url, str(out)], timeout=1800)


def _traffic_note(t: Traffic) -> str:
    if not t.unranged_gets:
        return ""
    return f"; {t.unranged_gets} GET(s) without Range, {t.unranged_bytes:,} body bytes"


def measure_corpus(name: str, h5: Path, rows: int, args: argparse.Namespace, server: ServerProcess,
                   served: Path, anchors: dict[str, Anchor], report: Report) -> None:
    """Index ``h5`` every way, then measure opens and slices at each latency, and local opens."""
    target = served / h5.name
    if not target.exists():
        if h5.stat().st_dev == served.stat().st_dev:
            os.link(h5, target)
        else:
            shutil.copyfile(h5, target)
    h5_url = server.url(h5.name)
    indexes: dict[str, Path] = {}
    for label, suffix, threshold in (("ours tar", ".lindi.tar", 10_000), ("ours json", ".lindi.json", 10_000),
                                     ("flat json", ".lindi.json", None)):
        path = served / f"{h5.stem}.{label.replace(' ', '_')}{suffix}"
        t0 = time.perf_counter()
        index_hdf5(h5, path, options=IndexOptions(url=h5_url, chunk_table_threshold=threshold))
        report.note(f"{name}: {label} index written in {time.perf_counter() - t0:.1f} s, {path.stat().st_size:,} bytes")
        indexes[label] = path
    with hdmf_lindi.File(indexes["ours tar"]) as f:
        table = f._state.refmap.chunk_table("x")
        assert table is not None and table.stored is not None
        shard_bytes = sum(s[1] for s in table.stored["entry"]["shards"])
        report.add(f"{name} table on disk", "ours", bytes=shard_bytes, ratio=shard_bytes / table.count,
                   note=f"{table.count:,} chunks, {len(table.stored['entry']['shards'])} shards; ratio = bytes per chunk")
    anchor_urls: dict[str, str] = {"lindi": h5_url, "remfile": h5_url}
    for tool, kind, out in (("lindi (no threshold)", "lindi", served / f"{h5.stem}.lindi_flat.lindi.json"),
                            ("kerchunk parquet", "kerchunk", served / f"{h5.stem}.parq")):
        python = anchors[kind].python
        if python is None:
            continue
        made = prepare_anchor(python, tool, h5, h5_url, out)
        if "error" in made:
            report.note(f"{name}: {tool} index could not be made: {made['error']}")
            continue
        size = sum(p.stat().st_size for p in out.rglob("*")) if out.is_dir() else out.stat().st_size
        report.note(f"{name}: {tool} index written in {made['seconds']:.1f} s, {size:,} bytes")
        anchor_urls[tool] = server.url(out.name)

    for latency_ms in args.latency_ms:
        server.set(latency_s=latency_ms / 1000)
        tag = f"{name} @{latency_ms:.0f} ms"
        results = {label: ours_fresh(server, server.url(p.name), rows, args.repeat) for label, p in indexes.items()}
        measured: dict[str, dict[str, Any]] = {}
        for tool in ("lindi", "lindi (no threshold)", "kerchunk parquet", "remfile"):
            python = anchors["kerchunk" if tool.startswith("kerchunk") else "lindi"].python
            if python is None or tool not in anchor_urls:
                continue
            repeat = 1 if tool == "lindi (no threshold)" else args.repeat
            measured[tool] = anchor_run(python, tool, server, anchor_urls[tool], rows, repeat, args.cap_s)
        complete = {t: m for t, m in measured.items() if "error" not in m and m["rows"] == rows}
        checks = {r["checksum"] for r in results.values()} | {m["checksum"] for m in complete.values()}
        if len(checks) != 1:
            raise SystemExit(f"{tag}: the tools read different data ({checks})")
        flat_open = results["flat json"]["open"]
        for label, r in results.items():
            t = r["open_traffic"]
            ratio = r["open"] / flat_open if label != "flat json" else None
            report.add(f"{tag} open", label, r["open"], t.requests, _sent(t), ratio,
                       ("ratio = ours / flat json" if ratio is not None else "today's form") + _traffic_note(t))
        fastest_tool = min(complete, key=lambda t: complete[t]["seconds"]) if complete else None
        fastest = complete[fastest_tool]["seconds"] if fastest_tool else None
        for label, r in results.items():
            total = r["open"] + r["slice"]
            o, s = r["open_traffic"], r["slice_traffic"]
            note = f"slice alone: {s.requests} requests, {r['slice']:.3f} s"
            if fastest:
                note += f"; ratio = ours / fastest anchor ({fastest_tool})"
            report.add(f"{tag} open+slice", label, total, o.requests + s.requests, _sent(o) + _sent(s),
                       total / fastest if fastest else None, note)
        ours_tar = results["ours tar"]["open"] + results["ours tar"]["slice"]
        for tool in ("lindi", "lindi (no threshold)", "kerchunk parquet", "remfile"):
            kind = "kerchunk" if tool.startswith("kerchunk") else "lindi"
            if anchors[kind].python is None:
                report.unavailable(f"{tag} open+slice", anchors[kind], tool)
                continue
            m = measured.get(tool)
            if m is None:
                report.add(f"{tag} open+slice", tool, note="its index could not be made (see the notes)")
            elif "error" in m:
                report.add(f"{tag} open+slice", tool, note=str(m["error"]))
            else:
                t = m["traffic"]
                if m["rows"] == rows:
                    report.add(f"{tag} open+slice", tool, m["seconds"], t.requests, _sent(t), ours_tar / m["seconds"],
                               "ratio = ours tar / this" + _traffic_note(t))
                else:
                    fraction = float(m.get("fraction") or 0.0)
                    pace = f"; ~{m['seconds'] / fraction:.0f} s at this pace" if fraction > 0 else ""
                    report.add(f"{tag} open+slice", tool, None, t.requests, _sent(t), None,
                               f"stopped at the {args.cap_s:.0f} s cap after {100 * fraction:.1f}% of the slice in "
                               f"{m['seconds']:.1f} s (open included): the whole slice takes longer (one request "
                               f"per chunk, serial{pace})" + _traffic_note(t))
    server.set(latency_s=0.0)

    local_dir = args.workdir / "local"
    local_dir.mkdir(exist_ok=True)
    local: dict[str, dict[str, Any]] = {}
    for label, p in indexes.items():  # indexes of the local file (no HTTP in these rows)
        local_path = local_dir / p.name
        threshold = None if label == "flat json" else 10_000
        index_hdf5(h5, local_path, options=IndexOptions(chunk_table_threshold=threshold))
        local[label] = run_fresh(sys.executable, LOCAL_DRIVER, [str(local_path), "0", str(rows)])
        if "error" in local[label]:
            raise SystemExit(f"{name} local {label}: {local[label]['error']}")
    for label, r in local.items():
        ratio = r["open"] / local["flat json"]["open"] if label != "flat json" else None
        report.add(f"{name} local open", label, r["open"], bytes=r["open_rss"], ratio=ratio,
                   note="bytes = RSS growth" + ("; ratio = ours / flat json" if ratio else ""))
        report.add(f"{name} local slice", label, r["slice"], bytes=r["slice_rss"],
                   note="bytes = RSS growth of the first slice (its shard and data)")


def run(args: argparse.Namespace) -> Report:
    workdir: Path = args.workdir
    served = workdir / "served"
    served.mkdir(parents=True, exist_ok=True)
    corpus = make_corpus(workdir, args.quick)
    anchors = {"lindi": anchor("lindi"), "kerchunk": anchor("kerchunk")}
    report = Report(
        "chunk_tables",
        process_state=(f"every tool, ours included, in a fresh process per run, timed by itself after its imports; "
                       f"best of {args.repeat} (lindi without threshold: one run, capped at {args.cap_s:.0f} s)"),
    )
    report.note(f"chunks: {'10^5' if args.quick else '10^6'} per dataset; latency added per answer; "
                "requests = every request the server answered, bytes = body bytes")
    with ServerProcess(served) as server:
        for name, (h5, rows) in corpus.items():
            measure_corpus(name, h5, rows, args, server, served, anchors, report)
    return report


def main(argv: list[str] | None = None) -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--latency-ms", type=float, nargs="+", default=None,
                            help="latency added per answer (default: 20 50; --quick: 20)")
        parser.add_argument("--repeat", type=int, default=None, help="runs per tool, best kept (default 3; --quick 1)")
        parser.add_argument("--cap-s", type=float, default=None,
                            help="stop lindi without threshold after this many seconds (default 60; --quick 10)")

    args = parse_args(__doc__.split("\n", 1)[0], argv, extra)
    if args.latency_ms is None:
        args.latency_ms = [20.0] if args.quick else [20.0, 50.0]
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.cap_s is None:
        args.cap_s = 10.0 if args.quick else 60.0
    report = run(args)
    report.finish(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
