"""Source identity: what a referenced file or URL looked like when references to it were made.

A LINDI index points into other files by byte range. If such a file is later replaced by one of
the same layout but other values, the references still "work" and return the wrong bytes. To
catch that, writers record per referenced source a :class:`SourceIdentity` under the top-level
``"hdmf_lindi"`` key of the document (lindi ignores and keeps unknown top-level keys)::

    "hdmf_lindi": {"sources": {"<url or path as in refs>": {"size": 123, "mtime_ns": ...}}}

and readers compare it with what they find, at no extra request: the ``fstat`` a local source
does when it is opened, and the ``Content-Range`` / ``ETag`` headers every remote answer carries.

Comparison rules (:meth:`SourceIdentity.matches`):

* ``size`` is always compared;
* ``mtime_ns`` (local files) is compared when both sides have it;
* ``etag`` (remote) is compared when both sides have it, ignoring a weak ``W/`` prefix;
* ``last_modified`` (remote) is compared only when both sides have it and no ETag can be
  compared (an ETag is the stronger statement: a re-upload of the same bytes keeps it);
* any field missing on either side is not compared, so identities recorded by a remote probe
  and checked against a bare ``206`` answer (size only) still work.

Files written without identities (lindi's, or ours before they were recorded) read as before.
Setting the environment variable ``HDMF_LINDI_CHECK_SOURCES=0`` turns the read checks off
(e.g. after copying sources with a tool that does not keep modification times).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from ..errors import NodeNotFoundError, ReferenceMapError
from .refmap import ReferenceMap

if TYPE_CHECKING:
    from .sources import RemoteOptions

__all__ = [
    "EXTRA_KEY",
    "SOURCES_KEY",
    "SourceIdentity",
    "carry_identities",
    "checks_enabled",
    "probe_identity",
    "read_identities",
    "record_identities",
]

EXTRA_KEY = "hdmf_lindi"
"""The top-level key of a LINDI document under which hdmf_lindi keeps what lindi does not know."""
SOURCES_KEY = "sources"
"""The key, inside :data:`EXTRA_KEY`, of the per-source identities."""
CHECK_ENV = "HDMF_LINDI_CHECK_SOURCES"


def checks_enabled() -> bool:
    """Whether reads compare sources with their recorded identities (env ``HDMF_LINDI_CHECK_SOURCES``)."""
    return os.environ.get(CHECK_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _strip_weak(etag: str) -> str:
    return etag[2:] if etag.startswith(("W/", "w/")) else etag


@dataclass(frozen=True, slots=True)
class SourceIdentity:
    """What a referenced file or URL looked like: size, plus mtime (local) or ETag (remote).

    Parameters
    ----------
    size
        Size in bytes.
    mtime_ns
        Modification time of a local file, in nanoseconds since the epoch.
    etag
        The ``ETag`` header of a remote resource, as sent (quotes included).
    last_modified
        The ``Last-Modified`` header of a remote resource, as sent.
    """

    size: int
    mtime_ns: int | None = None
    etag: str | None = None
    last_modified: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ReferenceMapError(f"A source identity needs a non-negative integer size, not {self.size!r}.")
        if self.mtime_ns is not None and (isinstance(self.mtime_ns, bool) or not isinstance(self.mtime_ns, int)):
            raise ReferenceMapError(f"A source identity's mtime_ns must be an integer, not {self.mtime_ns!r}.")
        for name in ("etag", "last_modified"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ReferenceMapError(f"A source identity's {name} must be a string, not {value!r}.")

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict[str, Any]:
        """Return the JSON object stored in the document (fields that are None are left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_json(cls, obj: Any) -> SourceIdentity:
        """Build an identity from its JSON object; unknown fields are ignored (newer writers).

        Raises
        ------
        ReferenceMapError
            If ``obj`` is not an object with a valid ``size``, or a field has the wrong type.
        """
        if not isinstance(obj, dict) or "size" not in obj:
            raise ReferenceMapError(f"A source identity must be an object with a 'size', not {obj!r}.")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in known})

    # ------------------------------------------------------------------ comparison
    def differences(self, other: SourceIdentity) -> list[str]:
        """Return the names of the compared fields that differ (see the module docstring)."""
        out = []
        if self.size != other.size:
            out.append("size")
        if self.mtime_ns is not None and other.mtime_ns is not None and self.mtime_ns != other.mtime_ns:
            out.append("mtime_ns")
        both_etags = self.etag is not None and other.etag is not None
        if both_etags and _strip_weak(self.etag or "") != _strip_weak(other.etag or ""):
            out.append("etag")
        if (
            not both_etags
            and self.last_modified is not None
            and other.last_modified is not None
            and self.last_modified != other.last_modified
        ):
            out.append("last_modified")
        return out

    def matches(self, other: SourceIdentity) -> bool:
        """Return whether ``other`` is the same source as far as both sides can tell."""
        return not self.differences(other)

    def describe(self) -> str:
        """A short human-readable form, e.g. ``size=123, etag="abc"``."""
        return ", ".join(f"{k}={v}" for k, v in self.to_json().items())


# ---------------------------------------------------------------------- probing
def probe_identity(location: str, options: RemoteOptions | None = None) -> SourceIdentity:
    """Return the identity of a local file (one ``stat``) or a URL (one HEAD, else a 1-byte GET).

    Parameters
    ----------
    location
        Local path (``file://`` allowed) or http(s) URL. A DANDI asset download URL is probed
        through its redirect, like every read of it.
    options
        HTTP tuning for a URL.

    Raises
    ------
    NodeNotFoundError
        If a local file does not exist.
    RemoteReadError
        If the URL cannot be read.
    """
    from .fetcher import shared_session  # fetcher and sources import this module
    from .sources import HttpSource, RemoteOptions, is_url

    if is_url(location):
        # the process-wide session: probing many files of one host reuses its connections
        options = options or RemoteOptions()
        return HttpSource(location, shared_session(options), options).probe()
    path = location[len("file://"):] if location.startswith("file://") else location
    try:
        return local_identity(os.stat(path))
    except FileNotFoundError as exc:
        raise NodeNotFoundError(f"Cannot probe {location}: no such file.") from exc


def local_identity(st: os.stat_result) -> SourceIdentity:
    """The identity of a local file from its ``stat`` result."""
    return SourceIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns)


# ---------------------------------------------------------------------- the document
def read_identities(refmap: ReferenceMap) -> dict[str, SourceIdentity]:
    """Return the identities recorded in a reference map (url or path as in refs -> identity).

    Raises
    ------
    ReferenceMapError
        If the recorded identities are malformed.
    """
    ours = refmap.extra.get(EXTRA_KEY)
    if not isinstance(ours, dict):
        return {}
    recorded = ours.get(SOURCES_KEY)
    if recorded is None:
        return {}
    if not isinstance(recorded, dict):
        raise ReferenceMapError(
            f"'{EXTRA_KEY}.{SOURCES_KEY}' in {refmap.source or 'the document'} must be an object, "
            f"not {type(recorded).__name__}."
        )
    return {url: SourceIdentity.from_json(obj) for url, obj in recorded.items()}


def record_identities(refmap: ReferenceMap, identities: Mapping[str, SourceIdentity]) -> None:
    """Add (or replace) recorded identities in a reference map, marking it dirty if it changed."""
    if not identities:
        return
    ours = refmap.extra.get(EXTRA_KEY)
    if not isinstance(ours, dict):
        ours = refmap.extra[EXTRA_KEY] = {}
    recorded = ours.setdefault(SOURCES_KEY, {})
    for url, identity in identities.items():
        value = identity.to_json()
        if recorded.get(url) != value:
            recorded[url] = value
            refmap.dirty = True


def carry_identities(src: ReferenceMap, dst: ReferenceMap, urls: Mapping[str, str]) -> None:
    """Copy the identities ``src`` records for some urls into ``dst``, under their new names.

    ``urls`` maps a url or path as ``src`` spells it to the way ``dst`` spells it (a copy or a
    pack rebases relative paths). Urls ``src`` has no identity for are skipped.

    Raises
    ------
    ReferenceMapError
        If the identities recorded in ``src`` are malformed.
    """
    recorded = read_identities(src)
    carried = {new: recorded[old] for old, new in urls.items() if old in recorded}
    record_identities(dst, carried)
