"""NodeIndex: which groups and arrays a reference map holds, and their children.

Built once from the store keys (one pass), then kept up to date as nodes are created and deleted.
"""

from __future__ import annotations

from typing import Literal

from ..storage.refmap import ReferenceMap

__all__ = ["NodeIndex"]

Kind = Literal["group", "array"]


class NodeIndex:
    """Kinds of node paths (``""`` is the root group) and their sorted child names."""

    def __init__(self, refmap: ReferenceMap) -> None:
        self._refmap = refmap
        self._kinds: dict[str, Kind] | None = None
        self._children: dict[str, set[str]] = {}
        self._sorted: dict[str, list[str]] = {}

    def _build(self) -> dict[str, Kind]:
        kinds: dict[str, Kind] = {"": "group"}
        for key in self._refmap.iter_keys(chunk_tables=False):  # chunk keys name no node
            parent, _, base = key.rpartition("/")
            if base == ".zgroup":
                kinds.setdefault(parent, "group")
            elif base == ".zarray":
                kinds[parent] = "array"
        children: dict[str, set[str]] = {}
        for path in kinds:
            if path:
                parent, _, name = path.rpartition("/")
                children.setdefault(parent, set()).add(name)
        # published whole, children first: a thread that sees _kinds set sees the children too
        self._children = children
        self._kinds = kinds
        return kinds

    def kind(self, path: str) -> Kind | None:
        """Return ``"group"``, ``"array"`` or None for a store path."""
        kinds = self._kinds if self._kinds is not None else self._build()
        return kinds.get(path)

    def paths(self) -> set[str]:
        """Return every node path (the root included, as ``""``)."""
        kinds = self._kinds if self._kinds is not None else self._build()
        return set(kinds)

    def children(self, path: str) -> list[str]:
        """Return the sorted child names of a group path."""
        if self._kinds is None:
            self._build()
        cached = self._sorted.get(path)
        if cached is None:
            cached = sorted(self._children.get(path, ()))
            self._sorted[path] = cached
        return list(cached)

    def add(self, path: str, kind: Kind) -> None:
        """Record a new node."""
        kinds = self._kinds if self._kinds is not None else self._build()
        kinds[path] = kind
        parent, _, name = path.rpartition("/")
        self._children.setdefault(parent, set()).add(name)
        self._sorted.pop(parent, None)

    def remove(self, path: str) -> None:
        """Forget a node and everything below it."""
        kinds = self._kinds if self._kinds is not None else self._build()
        prefix = path + "/"
        for p in [p for p in kinds if p == path or p.startswith(prefix)]:
            del kinds[p]
            self._children.pop(p, None)
            self._sorted.pop(p, None)
        parent, _, name = path.rpartition("/")
        self._children.get(parent, set()).discard(name)
        self._sorted.pop(parent, None)
