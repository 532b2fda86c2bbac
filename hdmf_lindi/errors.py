"""The one exception hierarchy of hdmf_lindi.

Every deliberate raise in the package uses a class from this module. Where users would naturally
catch a builtin (``KeyError`` for a missing node, ``OSError`` for I/O), our class inherits from
that builtin too, so existing ``except`` clauses keep working.

This module imports nothing from the package.
"""

from __future__ import annotations

__all__ = [
    "ChunkRefError",
    "ClosedFileError",
    "ConcurrentModificationError",
    "ContainerPathError",
    "FileLockedError",
    "FormatError",
    "IndexingError",
    "LindiError",
    "LindiWarning",
    "MetadataError",
    "MissingFileError",
    "ModeError",
    "NodeExistsError",
    "NodeNotFoundError",
    "NotPicklableError",
    "ReferenceMapError",
    "RemoteReadError",
    "SourceChangedError",
    "TarLayoutError",
    "UnsupportedError",
    "FileNameError",
    "DialectError",
    "HdmfCompatibilityError",
    "UnknownDialectError",
]


class LindiError(Exception):
    """Base class of every exception hdmf_lindi raises on purpose. Never raised directly."""


class FormatError(LindiError, ValueError):
    """Content breaks the LINDI / Zarr v2 conventions."""


class ReferenceMapError(FormatError):
    """Malformed reference-map JSON: bad ``refs`` values, templates or top-level keys."""


class TarLayoutError(FormatError):
    """A ``.lindi.tar`` that is truncated, inconsistent, or has member names that escape it."""


class ContainerPathError(FormatError):
    """A member or blob name that escapes its container (absolute, or with ``..``)."""


class MetadataError(FormatError):
    """Bad ``.zarray`` / ``.zattrs`` / ``.zgroup`` content or an unknown special annotation."""


class NodeNotFoundError(LindiError, KeyError):
    """A missing group, dataset, attribute, link target or blob."""

    def __str__(self) -> str:
        # KeyError would repr() the message and wrap it in quotes.
        return str(self.args[0]) if self.args else ""


class NodeExistsError(LindiError, ValueError):
    """A group, dataset or link of that name already exists."""


class ChunkRefError(LindiError, ValueError):
    """A chunk reference that points outside its target, or whose length does not match."""

    def __init__(self, message: str, *, url: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.url = url
        """The URL or path the reference points at, when known."""
        self.key = key
        """The store key holding the reference, when known."""


class RemoteReadError(LindiError, OSError):
    """An HTTP read failed: an error status, an ignored Range, or a short body."""

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        byte_range: tuple[int, int] | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.url = url
        """The URL that was requested."""
        self.status = status
        """The HTTP status code received, or None when no response arrived."""
        self.byte_range = byte_range
        """The requested ``(start, stop)`` byte range, stop exclusive, or None for the whole object."""
        self.attempts = attempts
        """How many attempts were made."""


class ModeError(LindiError, ValueError):
    """The operation is not allowed in this mode (read-only file, file exists, ...)."""


class MissingFileError(ModeError, FileNotFoundError):
    """A file opened in ``r`` or ``r+`` does not exist.

    Also a ``FileNotFoundError``, so code written for h5py and ``NWBHDF5IO``
    (``except FileNotFoundError``) catches it.
    """


class ClosedFileError(ModeError, KeyError, RuntimeError):
    """A file, group, dataset or attribute was used after its file was closed.

    h5py raises ``ValueError``, ``KeyError`` (``f["x"]``, ``attrs["a"]``) or ``RuntimeError``
    (``ds[...]``) for the same misuse; this class is all three, so code written for h5py keeps
    catching it (and, as in h5py, ``"x" in f`` is False and ``f.get("x")`` is None).
    """

    def __str__(self) -> str:
        # KeyError would repr() the message and wrap it in quotes.
        return str(self.args[0]) if self.args else ""


class UnsupportedError(LindiError, NotImplementedError):
    """Valid input that hdmf_lindi does not handle (yet)."""


class DialectError(UnsupportedError):
    """Content the chosen dialect cannot express (e.g. a lindi ``_EXTERNAL_ARRAY_LINK`` in Zarr v3)."""


class UnknownDialectError(DialectError, ValueError):
    """A ``dialect=`` value that names no dialect (``"lindi"`` and ``"zarr3"`` do)."""


class IndexingError(LindiError):
    """An HDF5 object that cannot be referenced without copying its data."""


class SourceChangedError(ChunkRefError):
    """A referenced file or URL is no longer the one the references were made against.

    Raised before any byte of the changed source is returned: its size, modification time or
    ETag differs from the identity recorded when it was indexed.
    """

    def __init__(
        self, message: str, *, url: str | None = None, recorded: object = None, found: object = None
    ) -> None:
        super().__init__(message, url=url)
        self.recorded = recorded
        """The identity recorded in the LINDI file (a ``SourceIdentity``)."""
        self.found = found
        """The identity found now (a ``SourceIdentity``)."""


class FileLockedError(LindiError, OSError):
    """Another writer holds the file open for writing (and the lock wait, if any, ran out)."""

    def __init__(self, message: str, *, path: str | None = None, holder: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        """The file that is locked."""
        self.holder = holder
        """Who holds the lock (``pid@host``), when known."""


class ConcurrentModificationError(LindiError):
    """The file was replaced by another process while this one had it open for writing.

    The other process's content is kept; this writer's changes are not saved.
    """


class FileNameError(LindiError, ValueError):
    """A file name whose suffix does not fit: a LINDI file named ``.nwb``, or an unknown suffix."""


class NotPicklableError(LindiError, TypeError):
    """An object that cannot cross a process boundary (a writable or in-memory file).

    Also a ``TypeError``, which is what ``pickle`` raises for unpicklable objects.
    """


class HdmfCompatibilityError(LindiError, RuntimeError):
    """The installed hdmf changed an internal that hdmf_lindi relies on
    (see :mod:`hdmf_lindi.backend.hdmf_internals`)."""


class LindiWarning(UserWarning):
    """Base class of the warnings hdmf_lindi emits."""
