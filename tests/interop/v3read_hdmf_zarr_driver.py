"""Driver run in the hdmf-zarr 0.14 environment (``hdmf_zarr_env.py``) for the v3-read tests.

    python v3read_hdmf_zarr_driver.py export DOC.json OUT.nwb
        Read the Zarr v3 reference file system DOC.json with ``NWBZarrIO`` (through fsspec's
        reference file system, as hdmf-zarr's docs show) and export what it read to OUT.nwb with
        ``NWBHDF5IO.export``, so that another process can compare it with its own read.
    python v3read_hdmf_zarr_driver.py time DOC.json REPEATS
        Print JSON ``{"seconds": [...]}``: the wall time of open + ``read()`` of DOC.json with
        ``NWBZarrIO``, REPEATS times in this one process (the first includes imports' warm-up of
        the type map, as our side's does).

Only the standard library, pynwb, hdmf-zarr, zarr and fsspec are used.
"""

from __future__ import annotations

import json
import sys
import time
import warnings


def _open(doc: str):  # type: ignore[no-untyped-def]
    import fsspec
    from hdmf_zarr import NWBZarrIO
    from zarr.storage import FsspecStore

    fs = fsspec.filesystem("reference", fo=doc, asynchronous=True)
    return NWBZarrIO(FsspecStore(fs, read_only=True, path=""), mode="r")


def export(doc: str, out: str) -> None:
    from pynwb import NWBHDF5IO

    with _open(doc) as io:
        nwbfile = io.read()
        with NWBHDF5IO(out, "w", manager=io.manager) as h5io:
            h5io.export(src_io=io, nwbfile=nwbfile, write_args={"link_data": False})


def timing(doc: str, repeats: int) -> None:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        with _open(doc) as io:
            io.read()
        seconds.append(time.perf_counter() - start)
    sys.stdout.write(json.dumps({"seconds": seconds}) + "\n")


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    command, *args = sys.argv[1:]
    if command == "export":
        export(args[0], args[1])
    elif command == "time":
        timing(args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown command {command!r}")
