"""Write an NWB file directly as LINDI with NWBLindiIO, the drop-in for NWBHDF5IO.

Scripts written for NWBHDF5IO keep working: the same NWBFile, the same H5DataIO chunking and
compression settings, the same append and export calls. The form follows the suffix:
.lindi.json (one text file, chunks inline), .lindi.tar (one file, chunks inside), .lindi.d (a
directory).

Run: python tutorials/07_write_nwb.py [output directory]
"""

import sys
from datetime import UTC, datetime
from pathlib import Path

import numcodecs
import numpy as np
from hdmf.backends.hdf5 import H5DataIO
from hdmf.data_utils import DataChunkIterator
from pynwb import NWBHDF5IO, NWBFile, TimeSeries

import hdmf_lindi
from hdmf_lindi import LindiDataIO, NWBLindiIO

out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")

nwbfile = NWBFile(
    session_description="a LINDI tutorial session",
    identifier="tutorial-07",
    session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
)
rng = np.random.default_rng(0)
# H5DataIO settings carry over: 1000-sample chunks, gzip level 4 (lindi reads gzip too)
nwbfile.add_acquisition(TimeSeries(
    name="voltage", unit="V", rate=1000.0,
    data=H5DataIO(rng.normal(size=(10_000, 4)).astype(np.float32), chunks=(1000, 4), compression="gzip"),
))
# LindiDataIO takes any numcodecs codec
nwbfile.add_acquisition(TimeSeries(
    name="counts", unit="n", rate=10.0,
    data=LindiDataIO(np.arange(5000, dtype=np.int32), chunks=(1000,), compressor=numcodecs.Blosc()),
))
# A DataChunkIterator streams data chunk by chunk, even of unknown length
stream = DataChunkIterator(data=(np.full(8, i, dtype=np.int16) for i in range(3000)), buffer_size=100)
nwbfile.add_acquisition(TimeSeries(name="streamed", unit="a.u.", rate=30.0, data=stream))

path = out_dir / "tutorial.lindi.tar"
with NWBLindiIO(path, "w") as io:
    io.write(nwbfile)
print(f"{path.name}: {path.stat().st_size:,} bytes")

with NWBLindiIO(path, "r") as io:
    read = io.read()
    voltage = read.acquisition["voltage"].data
    print("voltage:", voltage.shape, voltage.dtype, "chunks", voltage.chunks, voltage.compression)
    print("streamed:", read.acquisition["streamed"].data.shape)

# Append, as with NWBHDF5IO
with NWBLindiIO(path, "a") as io:
    read = io.read()
    read.add_acquisition(TimeSeries(name="added_later", data=np.arange(10.0), unit="s", rate=1.0))
    io.write(read)

# Export to HDF5 (and back) with the usual export call
with NWBLindiIO(path, "r") as src, NWBHDF5IO(str(out_dir / "tutorial.nwb"), "w") as dst:
    dst.export(src_io=src, write_args={"link_data": False})
with NWBHDF5IO(str(out_dir / "tutorial.nwb"), "r") as io:
    print("exported to HDF5:", sorted(io.read().acquisition))
print("validation errors:", hdmf_lindi.validate(path))
