"""Amend a remote NWB file: add processed data locally, without copying the original.

The seed's main use case. Index the remote NWB into a .lindi.tar, open it with NWBLindiIO in
append mode, add a processing module, and write. Only the new data is stored in the tar; every
original dataset still points at the remote file. The tar can be shared: anyone reading it sees
the original and the new data together.

Run: python tutorials/06_amend_remote_nwb.py [output directory] [NWB file URL or path]
"""

import sys
from pathlib import Path

import numpy as np
from pynwb import NWBHDF5IO, TimeSeries
from pynwb.testing.mock.ecephys import mock_ElectricalSeries
from pynwb.testing.mock.file import mock_NWBFile

import hdmf_lindi

out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
source = sys.argv[2] if len(sys.argv) > 2 else None

if source is None:
    nwbfile = mock_NWBFile()
    data = np.random.default_rng(0).integers(-1000, 1000, size=(20_000, 16), dtype=np.int16)
    mock_ElectricalSeries(name="ElectricalSeries", data=data, rate=1000.0, nwbfile=nwbfile)
    source = str(out_dir / "amend_example.nwb")
    with NWBHDF5IO(source, "w") as io:
        io.write(nwbfile)

# 1. Index the remote file into a .lindi.tar (no chunk is copied).
amended = out_dir / "amended.lindi.tar"
hdmf_lindi.index_hdf5(source, amended)
size_before = amended.stat().st_size

# 2. Open it in append mode, add a processing module with derived data, write.
with hdmf_lindi.NWBLindiIO(amended, "a") as io:
    nwbfile = io.read()
    raw = nwbfile.acquisition["ElectricalSeries"]
    power = np.square(raw.data[0:5000, :].astype(np.float32)).mean(axis=1)  # reads 5 s of data
    module = nwbfile.create_processing_module(name="ecephys", description="derived signals")
    module.add(TimeSeries(name="mean_power", data=power, unit="uV^2", rate=raw.rate))
    io.write(nwbfile)  # only the new module is written

size_after = amended.stat().st_size
print(f"{amended.name}: {size_before:,} -> {size_after:,} bytes (new data: {power.nbytes:,} bytes)")

# 3. Read back: original data (from the remote file) and new data (from the tar) together.
with hdmf_lindi.NWBLindiIO(amended, "r") as io:
    nwbfile = io.read()
    print("modules:", list(nwbfile.processing))
    print("mean power, first values:", nwbfile.processing["ecephys"]["mean_power"].data[:3])
    print("raw data still remote:", nwbfile.acquisition["ElectricalSeries"].data.shape)
