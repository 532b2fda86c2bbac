"""Store a 1000 x 1000 float32 array in a .lindi.tar and read it back (the seed's second example).

Large chunks go into the tar as internal blobs; the JSON index stays small.

Run: python tutorials/02_large_array_tar.py [output directory]
"""

import sys
from pathlib import Path

import numpy as np

import hdmf_lindi

out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
path = out_dir / "example.lindi.tar"

# Create a new .lindi.tar file
with hdmf_lindi.File(path, mode="w") as f:
    f.attrs["attr1"] = "value1"
    f.attrs["attr2"] = 7
    ds = f.create_dataset("dataset1", shape=(1000, 1000), dtype="f")
    ds[...] = np.random.rand(1000, 1000)

# Later read the file
with hdmf_lindi.File(path, mode="r") as f:
    print(f.attrs["attr1"])
    print(f.attrs["attr2"])
    ds = f["dataset1"]
    print(ds.shape, ds.dtype, "chunks", ds.chunks)
    print(ds[...])
    print("a slice reads only the chunks it needs:", ds[10:12, 500:503])
