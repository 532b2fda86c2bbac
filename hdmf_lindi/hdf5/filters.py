"""HDF5 filter pipelines -> Zarr v2 ``filters`` lists of numcodecs configurations.

HDF5 applies its filters in pipeline order when writing, which is Zarr's order for ``filters``
(Zarr decodes in reverse); ``compressor`` is left null. A filter with no byte-compatible numcodecs
codec makes the whole dataset unreferenceable chunk by chunk: the caller falls back to an
external array link and records the reason.
"""

from __future__ import annotations

from typing import Any

import h5py

__all__ = ["UnmappableFilter", "filters_for"]

_BLOSC_CNAMES = ["blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"]

# HDF5 filter ids (H5Zpublic.h and the registered plugin ids)
_DEFLATE, _SHUFFLE, _FLETCHER32, _SZIP, _NBIT, _SCALEOFFSET = 1, 2, 3, 4, 5, 6
_LZF, _BLOSC, _LZ4, _BITSHUFFLE, _ZSTD = 32000, 32001, 32004, 32008, 32015
_NAMES = {
    _SZIP: "szip", _NBIT: "nbit", _SCALEOFFSET: "scaleoffset", _LZF: "lzf", _LZ4: "lz4 (HDF5 framing)",
    _BITSHUFFLE: "bitshuffle",
}


class UnmappableFilter(Exception):  # noqa: N818 - internal signal, never escapes hdf5/
    """Raised inside this package when a filter has no numcodecs equivalent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def filters_for(dataset: h5py.Dataset) -> list[dict[str, Any]] | None:
    """Return the Zarr ``filters`` for a dataset's HDF5 pipeline (None when it has none).

    Raises
    ------
    UnmappableFilter
        If a filter has no numcodecs codec that decodes HDF5's bytes.
    """
    plist = dataset.id.get_create_plist()
    count = plist.get_nfilters()
    if count == 0:
        return None
    itemsize = dataset.dtype.itemsize
    out: list[dict[str, Any]] = []
    for i in range(count):
        code, _flags, values, name = plist.get_filter(i)
        if code == _DEFLATE:
            out.append({"id": "zlib", "level": int(values[0]) if values else 4})
        elif code == _SHUFFLE:
            out.append({"id": "shuffle", "elementsize": itemsize})
        elif code == _FLETCHER32:
            out.append({"id": "fletcher32"})
        elif code == _BLOSC:
            cname = _BLOSC_CNAMES[values[6]] if len(values) > 6 and values[6] < len(_BLOSC_CNAMES) else "lz4"
            out.append({
                "id": "blosc",
                "cname": cname,
                "clevel": int(values[4]) if len(values) > 4 else 5,
                "shuffle": int(values[5]) if len(values) > 5 else 1,
                "blocksize": 0,
            })
        elif code == _ZSTD:
            out.append({"id": "zstd", "level": int(values[0]) if values else 3})
        else:
            label = _NAMES.get(code, name.decode("ascii", "replace") if isinstance(name, bytes) else str(name))
            raise UnmappableFilter(
                f"HDF5 filter {code} ({label}) has no numcodecs codec that decodes its chunks"
            )
    return out
