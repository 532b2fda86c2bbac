"""A read-only container over an in-memory reference map (e.g. a fresh HDF5 index)."""

from __future__ import annotations

import os

from ..errors import ContainerPathError
from .containers import Container
from .fetcher import Fetcher
from .refmap import RangeRef, ReferenceMap
from .sources import ByteSource

__all__ = ["MemoryContainer"]


class MemoryContainer(Container):
    """A reference map held in memory. ``./`` references resolve against the working directory."""

    kind = "json"

    def __init__(self, refmap: ReferenceMap, *, allow_local_paths: bool | None = None) -> None:
        fetcher = Fetcher(base_dir=os.getcwd(), allow_local=True if allow_local_paths is None else allow_local_paths)
        super().__init__(refmap.source or "<memory>", refmap, fetcher, read_only=True)

    def _resolve_internal(self, ref: RangeRef, key: str) -> tuple[ByteSource | str, int, int]:
        raise ContainerPathError(
            f"Chunk {key!r} refers to {ref.url!r}, but an in-memory reference map has no container "
            "to resolve './' names against. Save it as .lindi.tar or .lindi.d first."
        )

    def flush(self) -> None:
        # docstring inherited
        self._check_writable()
