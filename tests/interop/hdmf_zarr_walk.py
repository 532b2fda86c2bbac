"""Walk a Zarr v3 store with zarr >= 3.4 and print every node as JSON (run in .venv-hdmf-zarr).

Usage: ``python hdmf_zarr_walk.py STORE``. Prints ``{path: {"kind", "attrs", "shape", "values"
or "sha256"}}``: attributes as zarr returns them; array values as a flat JSON list in C order
(struct rows as lists, strings without their NUL padding), or, for numeric arrays of more than
10,000 elements, the SHA-256 of their little-endian bytes. zarr 3.4 reads ``struct`` arrays,
which the zarr 3.1 of the test environment cannot.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import numpy as np
import zarr

BIG = 10_000


def _scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value.rstrip("\x00")
    return value


def _values(arr: Any) -> dict[str, Any]:
    data = np.asarray(arr[...])
    if data.dtype.names is None and data.dtype.kind in "biuf" and data.size > BIG:
        little = data.astype(data.dtype.newbyteorder("<"), copy=False)
        return {"sha256": hashlib.sha256(np.ascontiguousarray(little).tobytes()).hexdigest(), "dtype": little.dtype.str}
    flat = data.reshape(-1)
    if data.dtype.names is not None:
        return {"values": [[_scalar(x) for x in row.tolist()] for row in flat]}
    return {"values": [_scalar(v) for v in flat.tolist()]}


def main(path: str) -> None:
    root = zarr.open_group(path, mode="r")
    out: dict[str, Any] = {}
    for name, node in [("", root), *root.members(max_depth=None)]:
        entry: dict[str, Any] = {"attrs": node.attrs.asdict()}
        if isinstance(node, zarr.Array):
            entry.update(kind="array", shape=list(node.shape), **_values(node))
        else:
            entry["kind"] = "group"
        out[name] = entry
    sys.stdout.write(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
