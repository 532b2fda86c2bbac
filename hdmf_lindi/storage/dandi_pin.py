"""Pin a DANDI asset download URL to the immutable storage blob behind it, for indexing.

An ``api/assets/<id>/download/`` URL is not immutable: replacing or removing an asset drops its
id (it then answers ``404``, dandi-archive#2733) and its blob may be garbage-collected later.
The blob itself never changes. So :func:`~hdmf_lindi.index_hdf5` indexes against the blob URL
the API redirects to (without the presigned query string, which expires), after one ranged GET
has shown that the bare URL can be read: public blobs can, embargoed ones (which need the API
and a token) cannot, and keep the asset URL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from ..errors import RemoteReadError
from .dandi import asset_metadata, is_download_url
from .fetcher import shared_session
from .identity import SourceIdentity
from .sources import HttpSource, RemoteOptions

__all__ = ["PinnedSource", "pin_dandi_blob"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PinnedSource:
    """Where to read and reference an asset, and what to record about it."""

    url: str
    """The blob URL (or the asset URL, when the blob cannot be read without the API)."""
    metadata: dict[str, str] = field(default_factory=dict)
    """Asset URL, asset id, dandiset and version (when the URL names them) and ``blob_url``,
    for ``generationMetadata["dandi"]``."""
    identity: SourceIdentity | None = None
    """The blob's identity as its probe stated it (size, ETag)."""


def pin_dandi_blob(url: str, options: RemoteOptions | None = None) -> PinnedSource | None:
    """Resolve a DANDI asset download URL to its blob URL; None for any other URL.

    Costs two requests: the API's redirect, and a HEAD (or 1-byte GET) of the bare blob URL.

    Raises
    ------
    RemoteReadError
        If the API does not redirect (a ``404``: the asset no longer exists).
    """
    options = options or RemoteOptions()
    if not is_download_url(url, options.dandi_api_hosts):
        return None
    meta = asset_metadata(url)
    asset = HttpSource(url, shared_session(options), options)
    target = asset.storage_url()
    parts = urlsplit(target)
    bare = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    if bare == url:  # the API serves the bytes itself
        return PinnedSource(url, meta)
    blob = HttpSource(bare, shared_session(options), options)
    try:
        identity = blob.probe()
    except RemoteReadError as exc:
        logger.info("keeping the asset URL %s: its blob %s cannot be read directly (%s)", url, bare, exc)
        return PinnedSource(url, {**meta, "blob_url": bare, "pinned": "no: the blob needs the API (embargoed?)"})
    return PinnedSource(bare, {**meta, "blob_url": bare}, identity)
