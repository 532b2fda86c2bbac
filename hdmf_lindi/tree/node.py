"""What groups and datasets share: name, attrs, file, parent and object reference."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..format.references import Reference
from .attrs import AttributeManager
from .handle import FileHandle, reopen_node
from .state import _FileState

if TYPE_CHECKING:
    from .file import File
    from .group import Group


class _Node:
    def __init__(self, state: _FileState, path: str) -> None:
        self._state = state
        self._path = path

    @property
    def name(self) -> str:
        """Absolute path of the node."""
        return "/" + self._path

    @property
    def attrs(self) -> AttributeManager:
        """The node's attributes."""
        return AttributeManager(self._state, self._path)

    @property
    def file(self) -> File:
        """The file the node belongs to."""
        return self._state.file

    @property
    def parent(self) -> Group:
        """The group that holds the node."""
        from .group import Group  # group.py builds on this module

        return Group(self._state, self._path.rpartition("/")[0])

    @property
    def ref(self) -> Reference:
        """An object reference to this node (uses ``object_id`` attributes when present)."""
        own = self._state.zattrs(self._path).get("object_id")
        root = self._state.zattrs("").get("object_id")
        return Reference(
            path=self.name,
            object_id=own if isinstance(own, str) else None,
            source_object_id=root if isinstance(root, str) else None,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Node) and other._state is self._state and other._path == self._path

    def __hash__(self) -> int:
        return hash((id(self._state), self._path))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by location: the file's handle and the node's path (see :mod:`.handle`).

        Unpickling reopens the file read-only, once per process, and checks it is the same
        file (:class:`~hdmf_lindi.errors.SourceChangedError` if not).

        Raises
        ------
        NotPicklableError
            For a file open for writing, closed, or over an in-memory reference map.
        """
        assert self._state.file is not None
        return (reopen_node, (FileHandle.of(self._state.file), self._path))
