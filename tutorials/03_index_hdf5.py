"""Index an NWB (HDF5) file into a small .lindi.json that references its chunks.

The index holds the whole group structure, the attributes and the small datasets; large
datasets stay in the NWB file and are read from it chunk by chunk. The NWB file can be a local
path or an http(s) URL, such as a DANDI asset
(https://api.dandiarchive.org/api/assets/<asset id>/download/): then indexing downloads only
the HDF5 metadata, and each read downloads only the byte ranges it needs.

Run: python tutorials/03_index_hdf5.py [output directory] [NWB file path or URL]

Without an NWB file, the script first writes a small one with pynwb's mock data.
"""

import sys
from pathlib import Path

import numpy as np
from pynwb import NWBHDF5IO
from pynwb.testing.mock.ecephys import mock_ElectricalSeries
from pynwb.testing.mock.file import mock_NWBFile

import hdmf_lindi

out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
source = sys.argv[2] if len(sys.argv) > 2 else None

if source is None:
    # An NWB file with a 30 s, 32-channel recording (pynwb's mock data)
    nwbfile = mock_NWBFile()
    data = np.random.default_rng(0).integers(-1000, 1000, size=(30_000, 32), dtype=np.int16)
    mock_ElectricalSeries(name="ElectricalSeries", data=data, rate=1000.0, nwbfile=nwbfile)
    source = str(out_dir / "example.nwb")
    with NWBHDF5IO(source, "w") as io:
        io.write(nwbfile)

# Index it: no chunk is copied. The chunk references record `source` (path or URL).
index_path = out_dir / "example.nwb.lindi.json"
hdmf_lindi.index_hdf5(source, index_path)
print(f"index of {source}: {index_path.stat().st_size:,} bytes")

# Read through the index like an HDF5 file
with hdmf_lindi.File(index_path) as f:
    print("session:", f["session_description"][()])
    for name, series in f["acquisition"].items():
        if not isinstance(series, hdmf_lindi.Group) or "data" not in series:
            continue
        data = series["data"]
        print(f"{name} ({series.attrs['neurodata_type']}): {data.shape} {data.dtype}")
        # A slice reads only the chunks it touches, from wherever `source` is
        print("  first samples:", data[:5, 0] if data.ndim > 1 else data[:5])
