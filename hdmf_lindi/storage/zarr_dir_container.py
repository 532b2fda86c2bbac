"""A Zarr directory store (hdmf-zarr's form) as a read-only container.

The container's reference map starts as the store's metadata documents under their store keys
(``zarr.json``, ``a/b/zarr.json`` for Zarr v3; ``.zgroup``/``.zattrs``/``.zarray`` for Zarr v2):
the dialect's translator (``format/``) turns it into the LINDI v2 model the tree reads. Chunks
are never listed: when the tree asks for a model chunk key (``a/b/1.0``, ``a/b/0`` for a 0-d
array), the container maps it back to the file the store holds it in, by the array's chunk key
encoding (``a/b/c/1/0``; ``a/b/c`` for 0-d; ``a/b/1.0`` or ``a/b/1/0`` in Zarr v2; for a
sharded array, the shard), and reads that file. A chunk file that does not exist reads as absent,
i.e. the fill value. Over HTTP, the first read of a 0-d array fetches the chunk files of every
0-d array at once (concurrently), since hdmf reads them all when it builds the containers.
Writing into such a store is not supported.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..errors import ContainerPathError, FormatError, ModeError
from .containers import Container
from .fetcher import Fetcher
from .refmap import RangeRef, ReferenceMap
from .sources import ByteSource
from .zarr_dir_reader import V3_META, StoreDialect, ZarrDirReader

__all__ = ["ChunkLayout", "ZarrDirContainer", "chunk_layouts", "store_chunk_key"]

logger = logging.getLogger(__name__)


def _model_chunk_key(index: tuple[int, ...]) -> str:
    """The model's chunk key suffix of a grid index (``i.j``; ``0`` for 0-d), as ``format/zarr_v2``."""
    return ".".join(map(str, index)) if index else "0"


class ChunkLayout(NamedTuple):
    """How one array of a store names its chunk files."""

    ndim: int
    prefix: str
    """Between the array's path and the grid index: ``"c/"`` or ``"c."`` (v3 default encoding)
    or ``""``."""
    separator: str
    """Between grid indices: ``"/"`` or ``"."``."""
    scalar_key: str
    """The key suffix of a 0-d array's only chunk: ``"c"`` (v3 default encoding) or ``"0"``."""


def chunk_layouts(metadata: dict[str, dict[str, Any]], dialect: StoreDialect) -> dict[str, ChunkLayout]:
    """Array path -> :class:`ChunkLayout`, from a store's metadata documents.

    Raises
    ------
    FormatError
        For an array whose shape or chunk key encoding is malformed or unknown.
    """
    out: dict[str, ChunkLayout] = {}
    for key, doc in metadata.items():
        path, _, name = key.rpartition("/")
        if dialect == "zarr3":
            if name != V3_META or doc.get("node_type") != "array":
                continue
            encoding = doc.get("chunk_key_encoding") or {"name": "default"}
            kind = encoding.get("name") if isinstance(encoding, dict) else None
            config = (encoding.get("configuration") or {}) if isinstance(encoding, dict) else {}
            if kind == "default":
                sep = str(config.get("separator", "/"))
                layout = ChunkLayout(0, "c" + sep, sep, "c")
            elif kind == "v2":
                layout = ChunkLayout(0, "", str(config.get("separator", ".")), "0")
            else:
                raise FormatError(f"Array {path or '/'} has an unknown chunk_key_encoding {encoding!r}.")
        else:
            if name != ".zarray":
                continue
            layout = ChunkLayout(0, "", doc.get("dimension_separator") or ".", "0")
        shape = doc.get("shape")
        if not isinstance(shape, list) or layout.separator not in ("/", "."):
            raise FormatError(f"Array {path or '/'} has a malformed shape or chunk key separator: {doc!r}.")
        out[path] = layout._replace(ndim=len(shape))
    return out


def store_chunk_key(path: str, suffix: str, layout: ChunkLayout) -> str | None:
    """The store key of the model chunk ``path/suffix`` (``suffix`` as ``i.j``, ``0`` for 0-d),
    or None if ``suffix`` is not a chunk index of an array with this layout."""
    if layout.ndim == 0:
        return f"{path}/{layout.scalar_key}" if suffix == "0" else None
    parts = suffix.split(".")
    if len(parts) != layout.ndim or not all(p.isdigit() for p in parts):
        return None
    return f"{path}/{layout.prefix}{layout.separator.join(parts)}"


def _spec_prefix(reader: ZarrDirReader) -> str:
    """``"<specloc>/"``: the cached specifications, which hdmf reads only when it needs them;
    ``"\0"`` (no path starts with it) if the root names none."""
    root = reader.metadata.get(V3_META) or {}
    attrs = root.get("attributes") if reader.dialect == "zarr3" else reader.metadata.get(".zattrs")
    specloc = attrs.get(".specloc") if isinstance(attrs, dict) else None
    return specloc.strip("/") + "/" if isinstance(specloc, str) and specloc.strip("/") else "\0"


class ZarrDirContainer(Container):
    """A Zarr directory store, local or over HTTP, read-only."""

    kind = "zarr"

    def __init__(self, reader: ZarrDirReader) -> None:
        refmap = ReferenceMap(reader.metadata, source=reader.location)
        super().__init__(reader.location, refmap, reader.fetcher, read_only=True)
        self.reader = reader
        self.dialect: StoreDialect = reader.dialect
        """The store's Zarr version (which translator makes the model of it)."""
        self.layouts = chunk_layouts(reader.metadata, reader.dialect)
        """Array path -> how it names its chunk files."""
        self._scalars = frozenset(
            f"{path}/{layout.scalar_key}" for path, layout in self.layouts.items()
            if layout.ndim == 0 and not (path + "/").startswith(_spec_prefix(reader))
        ) if reader.remote else frozenset()
        self._prefetched: dict[str, bytes | None] | None = None
        self._prefetch_lock = threading.Lock()

    @classmethod
    def open(cls, location: str, fetcher: Fetcher) -> ZarrDirContainer:
        """Open the store at a local path or base URL (see
        :class:`~hdmf_lindi.storage.zarr_dir_reader.ZarrDirReader`).

        Raises
        ------
        MissingFileError, FormatError, UnsupportedError, RemoteReadError
            As :meth:`~hdmf_lindi.storage.zarr_dir_reader.ZarrDirReader.open` raises.
        """
        return cls(ZarrDirReader.open(location, fetcher))

    def store_key(self, key: str) -> str | None:
        """The store key of a model chunk key, or None if ``key`` is no chunk of a known array."""
        path, _, suffix = key.rpartition("/")
        layout = self.layouts.get(path)
        return None if layout is None else store_chunk_key(path, suffix, layout)

    def unlisted_chunk_keys(self, path: str) -> list[str]:
        """The model chunk keys of array ``path`` that the store holds files for (a local store
        is listed; over HTTP, where nothing can be listed, every chunk of the grid: absent ones
        read as ``None``)."""
        layout = self.layouts.get(path)
        if layout is None:
            return []
        if self.reader.remote:
            return [f"{path}/{_model_chunk_key(index)}" for index in np.ndindex(*self._grid(path))]
        folder = os.path.join(self.reader.location, *path.split("/"))
        if layout.ndim == 0:
            return [f"{path}/0"] if os.path.isfile(os.path.join(folder, layout.scalar_key)) else []
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(folder):
            rel = os.path.relpath(dirpath, folder).replace(os.sep, "/")
            dirnames.sort()
            for name in filenames:
                key = name if rel == "." else f"{rel}/{name}"
                if not key.startswith(layout.prefix):
                    continue
                parts = key[len(layout.prefix):].split(layout.separator)
                if len(parts) == layout.ndim and all(p.isdigit() for p in parts):
                    out.append(f"{path}/{'.'.join(parts)}")
        return sorted(out)

    def _grid(self, path: str) -> tuple[int, ...]:
        """Chunks per dimension of array ``path``, from its store metadata."""
        if self.dialect == "zarr3":
            doc = self.reader.metadata[f"{path}/{V3_META}" if path else V3_META]
            chunks = doc.get("chunk_grid", {}).get("configuration", {}).get("chunk_shape")
        else:
            doc = self.reader.metadata[f"{path}/.zarray" if path else ".zarray"]
            chunks = doc.get("chunks")
        shape = doc.get("shape") or []
        if not isinstance(chunks, list) or len(chunks) != len(shape):
            raise FormatError(f"Array /{path} of {self.location} has chunks {chunks!r} for shape {shape!r}.")
        return tuple(-(-int(n) // int(c)) if c else 0 for n, c in zip(shape, chunks, strict=True))

    def read_many(
        self, keys: Sequence[str], on_ready: Callable[[list[int], list[bytes | None]], None] | None = None
    ) -> list[bytes | None]:
        # docstring inherited; chunk keys the map does not hold are read from the store's files
        refmap = self.refmap
        mapped: list[int] = []
        store_keys: list[str] = []
        held: list[int] = []
        for i, key in enumerate(keys):
            skey = None if key in refmap else self.store_key(key)
            if skey is None:
                held.append(i)
            else:
                mapped.append(i)
                store_keys.append(skey)
        if not mapped:
            return super().read_many(keys, on_ready)
        out: list[bytes | None] = [None] * len(keys)

        def relay(where: list[int]) -> Callable[[list[int], list[bytes | None]], None]:
            def ready(indices: list[int], part: list[bytes | None]) -> None:
                for j in indices:
                    out[where[j]] = part[j]
                if on_ready is not None:
                    on_ready([where[j] for j in indices], out)

            return ready

        if held:
            super().read_many([keys[i] for i in held], relay(held))
        if self._scalars and any(k in self._scalars for k in store_keys):
            known = self._prefetch_scalars()
            now = [j for j, k in enumerate(store_keys) if k in known]
            for j in now:
                out[mapped[j]] = known[store_keys[j]]
            if now and on_ready is not None:
                on_ready([mapped[j] for j in now], out)
            rest = [j for j, k in enumerate(store_keys) if k not in known]
            mapped, store_keys = [mapped[j] for j in rest], [store_keys[j] for j in rest]
        if store_keys:
            self.reader.read_keys(store_keys, relay(mapped))
        return out

    def _prefetch_scalars(self) -> dict[str, bytes | None]:
        """The chunk files of every 0-d array of a remote store, fetched in one concurrent batch
        the first time one of them is asked for (hdmf reads scalar datasets eagerly: one GET
        each, one after another, would cost a round trip per scalar)."""
        with self._prefetch_lock:
            if self._prefetched is None:
                keys = sorted(self._scalars)
                self._prefetched = dict(zip(keys, self.reader.read_keys(keys), strict=True))
                logger.debug("prefetched the %d scalars of %s", len(keys), self.location)
            return self._prefetched

    def _resolve_internal(self, ref: RangeRef, key: str) -> tuple[ByteSource | str, int, int]:
        raise ContainerPathError(
            f"Key {key!r} of the Zarr store {self.location} refers to {ref.url!r}; a directory "
            "store holds no './' references."
        )

    def _check_writable(self) -> None:
        raise ModeError(
            f"{self.location} is a Zarr directory store ({self.dialect}), which hdmf_lindi reads "
            "but does not write. Convert it to a LINDI file (hdmf-lindi convert) or write with "
            "NWBZarrIO."
        )

    def flush(self) -> None:
        # docstring inherited
        self._check_writable()
