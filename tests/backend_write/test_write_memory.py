"""Streaming a DataChunkIterator keeps memory bounded (issue 5: bounded-memory iterative writes).

A subprocess (so that ``ru_maxrss`` measures only this write) streams 200 MiB of float64 rows from
a generator, through ``DataChunkIterator`` of unknown final length, into a ``.lindi.tar`` with
``NWBLindiIO``. Its peak resident set may grow during the write by at most a quarter of the data
size (the implementation buffers about one 1 MiB chunk band at a time; 10 MB are typical).
The file then holds every row: its size covers the data, and rows at the start, middle and end
read back exactly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from hdmf_lindi import NWBLindiIO

DATA_MIB = 200
ROW = 1024  # float64: 8 KiB per row
N_ROWS = DATA_MIB * (1 << 20) // (ROW * 8)
MAX_GROWTH_KIB = DATA_MIB * 1024 // 4
REPO = Path(__file__).resolve().parents[2]

SCRIPT = f"""
import resource, sys
import numpy as np
from hdmf.data_utils import DataChunkIterator
from pynwb.testing.mock.base import mock_TimeSeries
from pynwb.testing.mock.file import mock_NWBFile
from hdmf_lindi import NWBLindiIO

def rows():
    base = np.arange({ROW}, dtype="float64")
    for i in range({N_ROWS}):
        yield base + i  # nothing is kept: each row is made when asked for

nwbfile = mock_NWBFile()
iterator = DataChunkIterator(data=rows(), maxshape=(None, {ROW}), dtype=np.dtype("float64"), buffer_size=256)
mock_TimeSeries(name="stream", data=iterator, nwbfile=nwbfile)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
with NWBLindiIO(sys.argv[1], "w") as io:
    io.write(nwbfile)
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_streaming_write_memory(tmp_path: Path) -> None:
    path = tmp_path / "stream.lindi.tar"
    script = tmp_path / "stream.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, str(script), str(path)], capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    before_kib, after_kib = (int(x) for x in proc.stdout.split())
    growth = after_kib - before_kib
    assert growth < MAX_GROWTH_KIB, f"peak RSS grew by {growth} KiB while streaming {DATA_MIB} MiB"

    assert path.stat().st_size >= DATA_MIB << 20
    with NWBLindiIO(path, "r") as io:
        data = io.read().acquisition["stream"].data
        assert (data.shape, data.dtype) == ((N_ROWS, ROW), np.float64)
        base = np.arange(ROW, dtype="float64")
        for i in (0, N_ROWS // 2 + 17, N_ROWS - 1):
            np.testing.assert_array_equal(data[i], base + i)
