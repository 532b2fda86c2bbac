"""Real Zarr v3 documents for the tests: stores written by zarr 3 in memory, as reference maps.

``refs_of(store)`` turns a ``zarr.storage.MemoryStore`` into the ``refs`` of a version-1
reference file system (``zarr.json`` as JSON text, as zindi writes it, or as objects; chunks as
``base64:`` values), and ``write_doc`` stores such refs as a ``.json`` file.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import zarr
from zarr.storage import MemoryStore

__all__ = ["array_doc", "new_store", "refs_of", "write_doc"]


def new_store() -> tuple[MemoryStore, Any]:
    """An empty in-memory v3 store and its root group."""
    store = MemoryStore()
    return store, zarr.open_group(store, mode="w", zarr_format=3)


def refs_of(store: MemoryStore, *, metadata_as_objects: bool = False) -> dict[str, Any]:
    """The store's keys as RFS ``refs`` values."""
    refs: dict[str, Any] = {}
    for key, buf in sorted(store._store_dict.items()):
        data = buf.to_bytes()
        if key.rpartition("/")[2] == "zarr.json":
            doc = json.loads(data)
            refs[key] = doc if metadata_as_objects else json.dumps(doc)
        else:
            refs[key] = "base64:" + base64.b64encode(data).decode("ascii")
    return refs


def write_doc(path: Path, refs: dict[str, Any], **top: Any) -> Path:
    """Write ``{"version": 1, "refs": refs, **top}`` to ``path`` (non-finite floats as bare tokens)."""
    path.write_text(json.dumps({"version": 1, **top, "refs": refs}))
    return path


def array_doc(
    shape: list[int],
    data_type: Any,
    *,
    chunks: list[int] | None = None,
    codecs: list[Any] | None = None,
    fill_value: Any = 0,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A hand-written array ``zarr.json`` (default: one chunk, little-endian bytes)."""
    return {
        "zarr_format": 3,
        "node_type": "array",
        "shape": shape,
        "data_type": data_type,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": shape if chunks is None else chunks}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill_value,
        "codecs": codecs or [{"name": "bytes", "configuration": {"endian": "little"}}],
        "attributes": attributes or {},
        "storage_transformers": [],
    }
