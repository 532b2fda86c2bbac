"""Update a .lindi.tar many times, then pack it back to the size of its live data.

A .lindi.tar never overwrites what a reader may be using: every update appends the chunks it
rewrote, a new index and a new lindi.json, and leaves the old ones behind as dead bytes.
Packing copies only what the file still uses into a newly laid out archive.

Run: python tutorials/04_pack_tar.py [output directory]
The same from the shell: hdmf-lindi pack IN OUT  (OUT may be IN itself)
"""

import sys
from pathlib import Path

import numpy as np

import hdmf_lindi
from hdmf_lindi import pack

out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
path = out_dir / "updated.lindi.tar"
rng = np.random.default_rng(0)

# A 1000 x 100 array in ten chunks of 100 rows (80 kB each)
with hdmf_lindi.File(path, mode="w") as f:
    f.create_dataset("data", data=rng.random((1000, 100)), chunks=(100, 100))

# Twenty updates, each rewriting one chunk and an attribute
for i in range(20):
    with hdmf_lindi.File(path, mode="a") as f:
        row = (i % 10) * 100
        f["data"][row:row + 100] = rng.random((100, 100))
        f.attrs["updates"] = i + 1

with hdmf_lindi.File(path) as f:
    expected = f["data"][...]

# Pack it in place: the new archive is built beside the old one, then replaces it at once
stats = pack(path, path)
print(f"{path.name}: {stats.bytes_before:,} bytes before, {stats.bytes_after:,} after packing")
print(f"{stats.blobs_copied} chunks copied ({stats.bytes_copied:,} bytes of chunk data)")

with hdmf_lindi.File(path) as f:
    print("updates:", f.attrs["updates"], "- data unchanged:", np.array_equal(f["data"][...], expected))
