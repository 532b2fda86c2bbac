"""Source identities for resume, as the manifest stores them (JSON objects).

A thin layer over :mod:`hdmf_lindi.storage.identity`: one probe costs one ``stat`` for a local
file and one request (a HEAD, else a 1-byte GET) for a URL, sent through the process-wide
session so that probing many files of one host reuses its connections.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import NodeNotFoundError, ReferenceMapError
from ..storage.fetcher import shared_session
from ..storage.identity import SourceIdentity, local_identity
from ..storage.sources import HttpSource, RemoteOptions, is_url

__all__ = ["identities_match", "probe_identity"]


def probe_identity(location: str, options: RemoteOptions | None = None) -> dict[str, Any]:
    """Return the identity of ``location`` now, as JSON: one ``stat``, or one request for a URL.

    Raises
    ------
    NodeNotFoundError
        If a local file does not exist.
    RemoteReadError
        If the URL cannot be read.
    """
    if is_url(location):
        options = options or RemoteOptions()
        return HttpSource(location, shared_session(options), options).probe().to_json()
    try:
        return local_identity(os.stat(location)).to_json()
    except FileNotFoundError as exc:
        raise NodeNotFoundError(f"Cannot index {location}: no such file.") from exc


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
