"""Source identities for resume: what a file or URL is now, and whether a recorded one still holds.

One probe costs one ``stat`` for a local file and one request for a URL. Identities travel as
plain JSON objects (the manifest stores them), made and compared only here.
"""

from __future__ import annotations

import os
from typing import Any

from ..storage.fetcher import shared_session
from ..storage.sources import HttpSource, RemoteOptions, is_url

__all__ = ["identities_match", "probe_identity"]


def probe_identity(location: str, options: RemoteOptions | None = None) -> dict[str, Any]:
    """Return the identity of ``location`` now: one ``stat``, or one request for a URL.

    Raises
    ------
    NodeNotFoundError, RemoteReadError
        As the storage layer raises for a missing file or a failed request.
    """
    if not is_url(location):
        try:
            st = os.stat(location)
        except FileNotFoundError as exc:
            from ..errors import NodeNotFoundError

            raise NodeNotFoundError(f"Cannot probe {location}: no such file.") from exc
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    options = options or RemoteOptions()
    source = HttpSource(location, shared_session(options), options)
    _, size = source.read_prefix(1)
    return {"size": size}


def identities_match(recorded: dict[str, Any] | None, found: dict[str, Any]) -> bool:
    """Whether ``found`` is the same content as ``recorded``: every field both know agrees.

    The size must be known on both sides; a record without an identity never matches.
    """
    if not recorded or "size" not in recorded or "size" not in found:
        return False
    shared = set(recorded) & set(found)
    return all(recorded[k] == found[k] for k in shared)
