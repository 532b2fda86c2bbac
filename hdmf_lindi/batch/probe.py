"""Source identities for resume, as the manifest stores them (JSON objects).

A thin layer over :mod:`hdmf_lindi.storage.identity`, whose probe costs one ``stat`` for a
local file and one request (a HEAD, else a 1-byte GET) for a URL, on the process-wide session.
"""

from __future__ import annotations

from typing import Any

from ..errors import ReferenceMapError
from ..storage import identity
from ..storage.identity import SourceIdentity
from ..storage.sources import RemoteOptions

__all__ = ["identities_match", "probe_identity"]


def probe_identity(location: str, options: RemoteOptions | None = None) -> dict[str, Any]:
    """Return the identity of ``location`` now, as JSON (:func:`hdmf_lindi.storage.identity.probe_identity`).

    Raises
    ------
    NodeNotFoundError
        If a local file does not exist.
    RemoteReadError
        If the URL cannot be read.
    """
    return identity.probe_identity(location, options).to_json()


def identities_match(recorded: dict[str, Any] | None, found: dict[str, Any]) -> bool:
    """Whether ``found`` is the same content as ``recorded`` (:meth:`SourceIdentity.matches`).

    A record without a (valid) identity never matches.
    """
    if not recorded:
        return False
    try:
        return SourceIdentity.from_json(recorded).matches(SourceIdentity.from_json(found))
    except ReferenceMapError:
        return False
