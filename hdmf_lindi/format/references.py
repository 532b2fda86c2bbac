"""Object references and links as LINDI stores them (``_REFERENCE``, ``_SOFT_LINK``).

Pure value types and their JSON forms. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import MetadataError, UnsupportedError

__all__ = [
    "ExternalLink",
    "Reference",
    "SoftLink",
    "is_reference_json",
]

REFERENCE_KEY = "_REFERENCE"


@dataclass(frozen=True, slots=True)
class Reference:
    """An object reference: a pointer to a group or dataset in the same file.

    Store it in attributes and datasets; dereference it with ``file[ref]``.
    """

    path: str
    """Absolute path of the target (``/a/b``)."""
    object_id: str | None = None
    """The target's ``object_id`` attribute when it was created, or None."""
    source_object_id: str | None = None
    """The root group's ``object_id`` attribute, or None."""
    source: str = "."
    """The file holding the target; LINDI only uses ``.`` (this file)."""

    def __bool__(self) -> bool:
        return bool(self.path)

    def to_json(self) -> dict[str, Any]:
        """Return ``{"_REFERENCE": {...}}`` as lindi writes it."""
        return {
            REFERENCE_KEY: {
                "object_id": self.object_id,
                "path": self.path,
                "source": self.source,
                "source_object_id": self.source_object_id,
            }
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any], *, where: str = "") -> Reference:
        """Parse ``{"_REFERENCE": {...}}``.

        Raises
        ------
        MetadataError
            If the object lacks a string ``path``.
        UnsupportedError
            If ``source`` names another file.
        """
        body = obj.get(REFERENCE_KEY)
        if not isinstance(body, dict) or not isinstance(body.get("path"), str):
            raise MetadataError(f"Malformed _REFERENCE {obj!r}{where}: it needs a string 'path'.")
        source = body.get("source", ".")
        if source != ".":
            raise UnsupportedError(
                f"Reference to {body['path']!r}{where} points into another file ({source!r}); "
                "only same-file references ('.') are supported."
            )
        return cls(
            path=body["path"] if body["path"].startswith("/") else "/" + body["path"],
            object_id=body.get("object_id"),
            source_object_id=body.get("source_object_id"),
        )


def is_reference_json(obj: Any) -> bool:
    """Return whether a decoded JSON value is a ``_REFERENCE`` object."""
    return isinstance(obj, dict) and REFERENCE_KEY in obj


@dataclass(frozen=True, slots=True)
class SoftLink:
    """A soft link: a name that resolves to another path of the same file."""

    path: str
    """The target path, as stored (normally absolute)."""


@dataclass(frozen=True, slots=True)
class ExternalLink:
    """A link to an object in another file (read from HDF5 sources)."""

    filename: str
    """Path or URL of the other file."""
    path: str
    """Path of the object inside it."""
