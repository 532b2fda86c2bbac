"""Read what hdmf_lindi wrote in the ``zarr3`` dialect with hdmf-zarr 0.14 and zarr 3.4.

Runs in ``.venv-hdmf-zarr`` (see ``hdmf_zarr_env.py``), never in the test process. Every store
is a v3 reference-file-system JSON, opened through fsspec's reference file system as
hdmf-zarr's own zindi interop test does (``zarr-v3-layout.md`` §4.7).

Commands (paths are arguments; nothing else is read):

``nwb RFS OUT_NWB [RFS OUT_NWB ...]``
    ``NWBZarrIO(...).read()``, exported with ``NWBHDF5IO.export`` to ``OUT_NWB`` (the test
    process compares that with its own read), and ``pynwb.validate(io=...)`` on the same open
    IO. Prints one line per store, ``{"objects": n, "validation": [text, ...]}``.
``arrays RFS OUT_NPZ``
    Every array of the store read with ``zarr`` (``array[...]``) into ``OUT_NPZ`` (strings as
    numpy ``U``); prints ``{"arrays": n, "attributes": {path: attrs}}``.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any


def _store(rfs: str) -> Any:
    import fsspec
    from zarr.storage import FsspecStore

    fs = fsspec.filesystem("reference", fo=rfs, asynchronous=True)
    return FsspecStore(fs, read_only=True, path="")


def _nwb(rfs: str, out: str) -> None:
    from hdmf_zarr import NWBZarrIO
    from pynwb import NWBHDF5IO, validate

    with NWBZarrIO(_store(rfs), mode="r") as io:
        nwbfile = io.read()
        errors = [str(e) for e in validate(io=io)]
        with NWBHDF5IO(out, "w") as export:
            export.export(src_io=io, nwbfile=nwbfile, write_args={"link_data": False})
        sys.stdout.write(json.dumps({"objects": len(nwbfile.objects), "validation": errors}) + "\n")


def _text(values: Any) -> Any:
    import numpy as np

    if values.dtype.fields is not None:
        return values
    if values.dtype.kind in "OTU" or str(values.dtype).startswith("StringDType"):
        return np.asarray([str(v) for v in values.reshape(-1).tolist()], dtype=str).reshape(values.shape)
    return values


def _arrays(rfs: str, out: str) -> None:
    import numpy as np
    import zarr

    root = zarr.open_group(_store(rfs), mode="r")
    found: dict[str, Any] = {}
    attributes: dict[str, Any] = {"": dict(root.attrs)}
    for path, node in root.members(max_depth=None):
        attributes[path] = dict(node.attrs)
        if isinstance(node, zarr.Array):
            found[path] = _text(np.asarray(node[...]))
    np.savez(out, **{k.replace("/", "|"): v for k, v in found.items()})
    sys.stdout.write(json.dumps({"arrays": len(found), "attributes": attributes}, default=str) + "\n")


def main(argv: list[str]) -> int:
    warnings.simplefilter("ignore")  # zarr's numcodecs and consolidated-metadata notices
    command, pairs = argv[0], argv[1:]
    for rfs, out in zip(pairs[::2], pairs[1::2], strict=True):
        {"nwb": _nwb, "arrays": _arrays}[command](rfs, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
