"""Index an NWB (HDF5) file into a small .lindi.json that references its chunks.

The index holds the whole group structure, the attributes and the small datasets; large
datasets stay in the HDF5 file and are read from it chunk by chunk. The same call works on an
http(s) URL (e.g. a DANDI asset): only HDF5 metadata is downloaded.

Run: python tutorials/03_index_hdf5.py [output directory]
"""

import sys
from pathlib import Path

import numpy as np
from pynwb import NWBHDF5IO
from pynwb.testing.mock.ecephys import mock_ElectricalSeries
from pynwb.testing.mock.file import mock_NWBFile

import hdmf_lindi

out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
nwb_path = out_dir / "example.nwb"

# An NWB file with a 30 s, 32-channel recording (pynwb's mock data)
nwbfile = mock_NWBFile()
data = np.random.default_rng(0).integers(-1000, 1000, size=(30_000, 32), dtype=np.int16)
mock_ElectricalSeries(name="ElectricalSeries", data=data, rate=1000.0, nwbfile=nwbfile)
with NWBHDF5IO(nwb_path, "w") as io:
    io.write(nwbfile)

# Index it: no chunk is copied
index_path = out_dir / "example.nwb.lindi.json"
hdmf_lindi.index_hdf5(nwb_path, index_path)
print(f"{nwb_path.name}: {nwb_path.stat().st_size:,} bytes; index: {index_path.stat().st_size:,} bytes")

# Read through the index like an HDF5 file
with hdmf_lindi.File(index_path) as f:
    series = f["acquisition/ElectricalSeries"]
    print("neurodata_type:", series.attrs["neurodata_type"])
    print("data:", series["data"].shape, series["data"].dtype)
    print("first samples of channel 0:", series["data"][:5, 0])
    assert np.array_equal(series["data"][100:200], data[100:200])
