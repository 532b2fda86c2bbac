"""A read-only zarr 3 ``Store`` over a LINDI container: the "LINDI files are valid Zarr" view.

``zarr.open_group(LindiZarrStore(container), mode="r", zarr_format=2)`` reads the groups,
attributes and numeric arrays of a LINDI file. It is an interop view, not hdmf_lindi's read
path. Object arrays (strings, references, compounds: ``|O`` with the ``json2`` codec) cannot be
opened by zarr 3 ("No Zarr data type found"); use :class:`hdmf_lindi.File` for those. Short
last chunks of lindi's split contiguous datasets are zero-padded here, as lindi does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable

import numpy as np
from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)
from zarr.core.buffer import Buffer, BufferPrototype

from ..errors import ModeError
from .containers import Container

__all__ = ["LindiZarrStore"]


class LindiZarrStore(Store):
    """Expose a container's reference map as a read-only zarr 3 store (Zarr v2 keys).

    Parameters
    ----------
    container
        An open LINDI container (see :func:`hdmf_lindi.storage.open_container`).
    """

    supports_writes = False
    supports_deletes = False
    supports_partial_writes = False
    supports_listing = True

    def __init__(self, container: Container) -> None:
        super().__init__(read_only=True)
        self._container = container

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LindiZarrStore) and other._container is self._container

    def __hash__(self) -> int:
        return id(self._container)

    def _content(self, key: str) -> bytes | None:
        refmap = self._container.refmap
        if key not in refmap:
            return None
        if key.rpartition("/")[2] in (".zarray", ".zattrs", ".zgroup"):
            return json.dumps(refmap.get_json(key)).encode("utf-8")
        data = self._container.read(key)
        if data is None:
            return None
        return self._pad_short_chunk(key, data)

    def _pad_short_chunk(self, key: str, data: bytes) -> bytes:
        parent = key.rpartition("/")[0]
        zarray = self._container.refmap.get_json(f"{parent}/.zarray" if parent else ".zarray")
        if not isinstance(zarray, dict) or zarray.get("compressor") or zarray.get("filters"):
            return data
        dtype = np.dtype(zarray["dtype"])
        if dtype.kind not in "iuf":
            return data
        full = int(np.prod(zarray["chunks"])) * dtype.itemsize
        return data + bytes(full - len(data)) if len(data) < full else data

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        # docstring inherited
        data = self._content(key)
        if data is None:
            return None
        if isinstance(byte_range, RangeByteRequest):
            data = data[byte_range.start:byte_range.end]
        elif isinstance(byte_range, OffsetByteRequest):
            data = data[byte_range.offset:]
        elif isinstance(byte_range, SuffixByteRequest):
            data = data[-byte_range.suffix:]
        return prototype.buffer.from_bytes(data)

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        # docstring inherited
        return [await self.get(key, prototype, rng) for key, rng in key_ranges]

    async def exists(self, key: str) -> bool:
        # docstring inherited
        return key in self._container.refmap

    async def set(self, key: str, value: Buffer) -> None:
        # docstring inherited
        raise ModeError("The zarr view of a LINDI file is read-only; write through hdmf_lindi.File.")

    async def delete(self, key: str) -> None:
        # docstring inherited
        raise ModeError("The zarr view of a LINDI file is read-only; write through hdmf_lindi.File.")

    async def list(self) -> AsyncIterator[str]:
        # docstring inherited
        for key in self._container.refmap.keys():
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        # docstring inherited
        for key in self._container.refmap.keys():
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        # docstring inherited
        prefix = prefix.rstrip("/")
        start = prefix + "/" if prefix else ""
        seen: set[str] = set()
        for key in self._container.refmap.keys():
            if key.startswith(start):
                head = key[len(start):].split("/", 1)[0]
                if head not in seen:
                    seen.add(head)
                    yield head
