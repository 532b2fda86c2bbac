"""Sample LINDI files for the parallel-reading tests: one dataset of every dtype family."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import hdmf_lindi

SUFFIXES = {"json": ".lindi.json", "tar": ".lindi.tar", "dir": ".lindi.d"}


def sample_arrays(seed: int = 0) -> dict[str, tuple[np.ndarray[Any, Any], dict[str, Any]]]:
    """Return ``{name: (data, create_dataset keywords)}``: ints, floats, bools, strings, compounds."""
    rng = np.random.default_rng(seed)
    compound = np.zeros(300, dtype=[("a", "<i4"), ("b", "<f8")])
    compound["a"] = rng.integers(-1000, 1000, 300)
    compound["b"] = rng.normal(size=300)
    words = np.array([f"w{i}-" + "x" * int(rng.integers(0, 9)) for i in range(450)], dtype=object)
    return {
        "i16": (rng.integers(-30000, 30000, (900, 24)).astype("<i2"), {"chunks": (64, 8), "compression": "gzip"}),
        "f8": (rng.normal(size=3000), {"chunks": (256,)}),
        "u1": (rng.integers(0, 255, (20, 30, 7)).astype("u1"), {"chunks": (6, 7, 7), "compression": "zlib"}),
        "b": (rng.integers(0, 2, 500).astype(bool), {"chunks": (64,)}),
        "str": (words, {"chunks": (40,), "dtype": hdmf_lindi.string_dtype()}),
        "cmp": (compound, {"chunks": (50,)}),
    }


def write_sample(directory: Path, kind: str, seed: int = 0) -> tuple[Path, dict[str, np.ndarray[Any, Any]]]:
    """Write the sample arrays to a new ``kind`` file (json / tar / dir) in ``directory``.

    Returns the path and ``{dataset path: expected array}`` (datasets live under ``/data``).
    """
    path = directory / f"sample{seed}{SUFFIXES[kind]}"
    expected: dict[str, np.ndarray[Any, Any]] = {}
    with hdmf_lindi.File(path, "w") as f:
        group = f.create_group("data")
        for name, (data, kwargs) in sample_arrays(seed).items():
            group.create_dataset(name, data=data, **kwargs)
            expected[f"data/{name}"] = data
    return path, expected


def write_nwb(path: Path, seed: int = 0) -> dict[str, Any]:
    """Write an NWB file (any LINDI form, by suffix) with a rate-based ElectricalSeries over 6
    electrodes and a TimeSeries with timestamps; return what the tests compare with."""
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.ecephys import mock_ElectricalSeries, mock_ElectrodesTable
    from pynwb.testing.mock.file import mock_NWBFile

    from hdmf_lindi import NWBLindiIO

    rng = np.random.default_rng(seed)
    nwbfile = mock_NWBFile()
    electrodes = mock_ElectrodesTable(n_rows=6, nwbfile=nwbfile)
    from hdmf.common import DynamicTableRegion

    region = DynamicTableRegion(name="electrodes", data=list(range(6)), description="all", table=electrodes)
    data = rng.integers(-2000, 2000, (5000, 6)).astype("<i2")
    mock_ElectricalSeries(
        name="ElectricalSeries", data=H5DataIO(data, chunks=(500, 6), compression="gzip"), rate=1000.0,
        starting_time=2.5, electrodes=region, conversion=0.5e-6, nwbfile=nwbfile,
    )
    stamps = np.sort(rng.uniform(0, 100, 400))
    values = rng.normal(size=400)
    mock_TimeSeries(name="stamped", data=values, timestamps=stamps, unit="m", nwbfile=nwbfile)
    with NWBLindiIO(str(path), "w") as io:
        io.write(nwbfile)
    return {"data": data, "stamps": stamps, "values": values, "ids": np.asarray(electrodes.id[:])}
