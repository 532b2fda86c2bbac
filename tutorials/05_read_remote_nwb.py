"""Represent a remote NWB file as a small .lindi.json and read it with pynwb, chunk by chunk.

Indexing downloads only the HDF5 metadata of the NWB file. The resulting .lindi.json holds the
whole structure; opening it takes one small read, and NWBLindiIO gives the same NWBFile that
NWBHDF5IO would, while each data slice downloads only the byte ranges it needs.

Run: python tutorials/05_read_remote_nwb.py [output directory] [NWB file URL or path]

A DANDI asset URL looks like https://api.dandiarchive.org/api/assets/<asset id>/download/.
Without one, the script writes a small NWB file with pynwb's mock data and uses its path.
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
    nwbfile = mock_NWBFile()
    data = np.random.default_rng(0).integers(-1000, 1000, size=(20_000, 16), dtype=np.int16)
    mock_ElectricalSeries(name="ElectricalSeries", data=data, rate=1000.0, nwbfile=nwbfile)
    source = str(out_dir / "remote_example.nwb")
    with NWBHDF5IO(source, "w") as io:
        io.write(nwbfile)

# 1. Index once; share the small .lindi.json instead of the large NWB file.
index = out_dir / "remote_example.nwb.lindi.json"
hdmf_lindi.index_hdf5(source, index)
print(f"{index.name}: {index.stat().st_size:,} bytes for {source}")

# 2. Read it with pynwb, exactly as with NWBHDF5IO. No data chunk is read yet.
with hdmf_lindi.NWBLindiIO(index, "r") as io:
    nwbfile = io.read()
    series = nwbfile.acquisition["ElectricalSeries"]
    print(series.data)  # lazy: shape and dtype known, nothing downloaded

    # 3. Read one second of data: only the chunks holding it are fetched from the NWB file.
    one_second = series.data[0:1000, :]
    print("first second:", one_second.shape, one_second.dtype, "mean", float(one_second.mean()))

    # Tables work as in pynwb: the electrodes as a pandas DataFrame.
    print(nwbfile.electrodes.to_dataframe().head())

# 4. The same in one line (also for a URL of a .lindi.json or of the .nwb itself).
nwbfile = hdmf_lindi.read_nwb(index)
print("session:", nwbfile.session_description)
nwbfile.read_io.close()

# 5. Validate against the schema cached in the file.
print("validation errors:", hdmf_lindi.validate(index))
