"""DANDI Archive URLs: which hosts get the API token, and when a presigned URL expires. Pure.

DANDI serves an asset's bytes from ``https://api.dandiarchive.org/api/assets/<id>/download/``
(or ``/api/dandisets/<d>/versions/<v>/assets/<id>/download/``), which answers with a redirect
to a presigned URL on a storage host (S3). The presigned URL expires (typically after an hour)
and then answers ``403``. :class:`~hdmf_lindi.storage.sources.HttpSource` resolves a download
URL once, reuses the presigned URL for every range read, and resolves again shortly before it
expires or when it answers ``403``.

The API token of an embargoed dandiset (``DANDI_API_KEY`` for the main archive,
``DANDI_STAGING_API_KEY`` / ``DANDI_SANDBOX_API_KEY`` for the test instances) is sent as
``Authorization: token <key>`` to the API host only, over HTTPS, and never to the storage host
the API redirects to: a presigned URL carries its own authorisation, and forwarding the token
would leak it to a third party.

The host table is :data:`DANDI_API_HOSTS`; :class:`~hdmf_lindi.storage.sources.RemoteOptions`
takes another one (``dandi_api_hosts``), which is how the tests make a local server act as the
DANDI API.
"""

from __future__ import annotations

import calendar
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "DANDI_API_HOSTS",
    "ApiHosts",
    "PresignedUrl",
    "api_token",
    "asset_metadata",
    "auth_headers",
    "is_api_url",
    "is_download_url",
    "presigned_expiry",
]

ApiHosts: TypeAlias = tuple[tuple[str, str], ...]
"""``(netloc, environment variable)`` pairs; a netloc may appear several times (first set wins)."""

DANDI_API_HOSTS: ApiHosts = (
    ("api.dandiarchive.org", "DANDI_API_KEY"),
    ("api-staging.dandiarchive.org", "DANDI_STAGING_API_KEY"),
    ("api.sandbox.dandiarchive.org", "DANDI_SANDBOX_API_KEY"),
    ("api.sandbox.dandiarchive.org", "DANDI_STAGING_API_KEY"),
)
"""The DANDI API hosts and the environment variables holding their tokens."""

RENEW_MARGIN_S = 60.0
"""A presigned URL this close to its expiry is resolved again before use."""

_DOWNLOAD_PATH_RE = re.compile(r"/api/(?:dandisets/[^/]+/versions/[^/]+/)?assets/[^/]+/download/?")
_ASSET_PATH_RE = re.compile(
    r"/api/(?:dandisets/(?P<dandiset>[^/]+)/versions/(?P<version>[^/]+)/)?assets/(?P<asset>[^/]+)/download/?"
)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_api_url(url: str, hosts: ApiHosts = DANDI_API_HOSTS) -> bool:
    """Return whether ``url`` points at one of the DANDI API hosts."""
    netloc = urlsplit(url).netloc.lower()
    return any(netloc == host for host, _ in hosts)


def is_download_url(url: str, hosts: ApiHosts = DANDI_API_HOSTS) -> bool:
    """Return whether ``url`` is an asset download URL of a DANDI API host (resolved by redirect)."""
    return is_api_url(url, hosts) and _DOWNLOAD_PATH_RE.fullmatch(urlsplit(url).path) is not None


def api_token(
    url: str, hosts: ApiHosts = DANDI_API_HOSTS, environ: Mapping[str, str] = os.environ
) -> str | None:
    """Return the API token to send with a request to ``url``, or None.

    Only a DANDI API host gets a token, and only over HTTPS (or to a loopback address, which
    is how the tests run): a token must never travel in clear text or to another host.
    """
    parts = urlsplit(url)
    if parts.scheme != "https" and parts.hostname not in _LOOPBACK:
        return None
    netloc = parts.netloc.lower()
    for host, variable in hosts:
        if netloc == host and environ.get(variable):
            return environ[variable]
    return None


def auth_headers(url: str, hosts: ApiHosts = DANDI_API_HOSTS) -> dict[str, str]:
    """Return ``{"Authorization": "token <key>"}`` for a DANDI API URL with a token set, else ``{}``."""
    token = api_token(url, hosts)
    return {"Authorization": f"token {token}"} if token else {}


def presigned_expiry(url: str) -> float | None:
    """Return when a presigned URL expires (seconds since the epoch), or None if it does not say.

    Understands AWS signature v4 (``X-Amz-Date`` + ``X-Amz-Expires``) and the older ``Expires``
    timestamp (signature v2, CloudFront).
    """
    query = parse_qs(urlsplit(url).query)
    try:
        if "X-Amz-Date" in query and "X-Amz-Expires" in query:
            signed = time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
            return calendar.timegm(signed) + float(query["X-Amz-Expires"][0])
        if "Expires" in query:
            return float(query["Expires"][0])
    except ValueError:
        return None
    return None


@dataclass(frozen=True, slots=True)
class PresignedUrl:
    """A storage URL obtained from a DANDI download URL, with its expiry when known."""

    url: str
    """The URL range reads go to."""
    expires_at: float | None
    """Seconds since the epoch, or None when the URL does not say."""

    @classmethod
    def from_url(cls, url: str) -> PresignedUrl:
        """Wrap ``url``, reading its expiry from the query string."""
        return cls(url, presigned_expiry(url))

    def is_fresh(self, now: float, margin_s: float = RENEW_MARGIN_S) -> bool:
        """Return whether the URL is still usable for at least ``margin_s`` seconds."""
        return self.expires_at is None or now + margin_s < self.expires_at


def asset_metadata(url: str) -> dict[str, str]:
    """What a download URL says about its asset: ``asset_url``, ``asset_id``, and ``dandiset``
    and ``version`` when the URL names them (``/api/dandisets/<d>/versions/<v>/assets/...``)."""
    match = _ASSET_PATH_RE.fullmatch(urlsplit(url).path)
    if match is None:
        return {"asset_url": url}
    out = {"asset_url": url, "asset_id": match.group("asset")}
    if match.group("dandiset"):
        out["dandiset"] = match.group("dandiset")
        out["version"] = match.group("version")
    return out
