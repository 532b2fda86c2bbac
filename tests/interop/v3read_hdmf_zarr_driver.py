"""Driver run in the hdmf-zarr 0.14 environment (``hdmf_zarr_env.py``) for the v3-read tests.

    python v3read_hdmf_zarr_driver.py export DOC.json OUT.nwb
        Read the Zarr v3 reference file system DOC.json with ``NWBZarrIO`` (through fsspec's
        reference file system, as hdmf-zarr's docs show) and export what it read to OUT.nwb with
        ``NWBHDF5IO.export``, so that another process can compare it with its own read.
    python v3read_hdmf_zarr_driver.py mock DIR
        Write an NWB file of pynwb mock types with ``NWBZarrIO`` to DIR/mock.nwb.zarr (links to
        datasets and groups, attribute and column references, a compound with a reference
        field, a 0-d compound, ragged columns, scalars, non-ASCII text, NaN/Inf in data, the
        spec cache, consolidated metadata), pack that store into the reference file system
        DIR/mock.rfs.json (every key; ``zarr.json`` as JSON text, chunks as base64), then read
        the store back with ``NWBZarrIO`` and export it to DIR/mock_export.nwb.
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


def mock(folder: str) -> None:
    import base64
    import os

    import numpy as np
    from hdmf_zarr import NWBZarrIO
    from pynwb import NWBHDF5IO, TimeSeries
    from pynwb.ecephys import ElectrodeGroup
    from pynwb.testing.mock.ecephys import mock_ElectricalSeries
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile(experimenter=["Doe, Jane", "Roe, R\u00e9my"], identifier="v3read-mock")
    device = nwbfile.create_device(name="probe")
    shank = ElectrodeGroup(name="shank0", description="d", location="CA1", device=device, position=(1.0, 2.0, 3.0))
    nwbfile.add_electrode_group(shank)
    for i in range(4):
        nwbfile.add_electrode(group=shank, location="CA1", x=float(i), y=0.0, z=float("nan"))
    region = nwbfile.create_electrode_table_region(list(range(4)), "all")
    mock_ElectricalSeries(name="es", electrodes=region, data=np.arange(40, dtype="i2").reshape(10, 4), nwbfile=nwbfile)
    ts1 = TimeSeries(name="ts1", data=np.array([1.0, np.nan, np.inf, -np.inf]), unit="m", timestamps=np.arange(4.0))
    ts2 = TimeSeries(name="ts2", data=np.arange(4.0), unit="m", timestamps=ts1)
    ts3 = TimeSeries(name="ts3", data=ts1, unit="m", rate=1.0)
    for ts in (ts1, ts2, ts3):
        nwbfile.add_acquisition(ts)
    nwbfile.add_epoch(0.0, 1.0, ["a", "b\u00e9"], [ts1, ts2])
    nwbfile.add_epoch(2.0, 3.0, ["c"], [ts1])
    nwbfile.add_unit(spike_times=[0.1, 0.2], electrodes=[0, 1])
    nwbfile.add_unit(spike_times=[0.3], electrodes=[2])
    store = os.path.join(folder, "mock.nwb.zarr")
    with NWBZarrIO(store, mode="w") as io:
        io.write(nwbfile)
    refs = {}
    for root, _, files in os.walk(store):
        for name in sorted(files):
            path = os.path.join(root, name)
            key = os.path.relpath(path, store).replace(os.sep, "/")
            with open(path, "rb") as fh:
                data = fh.read()
            refs[key] = data.decode("utf-8") if name == "zarr.json" else "base64:" + base64.b64encode(data).decode("ascii")
    with open(os.path.join(folder, "mock.rfs.json"), "w") as fh:
        json.dump({"version": 1, "refs": refs}, fh)
    with NWBZarrIO(store, mode="r") as io:
        read = io.read()
        with NWBHDF5IO(os.path.join(folder, "mock_export.nwb"), "w", manager=io.manager) as h5io:
            h5io.export(src_io=io, nwbfile=read, write_args={"link_data": False})


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
    elif command == "mock":
        mock(args[0])
    elif command == "time":
        timing(args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown command {command!r}")
