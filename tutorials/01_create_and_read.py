"""Create a small LINDI JSON file and read it back (the seed's first example).

Run: python tutorials/01_create_and_read.py [output directory]
"""

import sys
from pathlib import Path

import hdmf_lindi

out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
path = out_dir / "example.lindi.json"

# Create a new .lindi.json file
with hdmf_lindi.File(path, mode="w") as f:
    f.attrs["attr1"] = "value1"
    f.attrs["attr2"] = 7
    ds = f.create_dataset("dataset1", shape=(10,), dtype="f")
    ds[...] = 12

# Later read the file
with hdmf_lindi.File(path, mode="r") as f:
    print(f.attrs["attr1"])
    print(f.attrs["attr2"])
    print(f["dataset1"][...])

# The file is plain JSON: groups, attributes and (small) chunks are all inline.
print(path.read_text()[:400])
