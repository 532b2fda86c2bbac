"""The DANDI Archive's REST API, as far as hdmf-lindi uses it: versions and paged asset listings.

The listing is one paged walk of ``GET {api}/dandisets/{id}/versions/{version}/assets/`` with
``metadata=1``, so every row carries its ``contentUrl`` (the download URL and the immutable
storage URL) and ``digest`` (the ETag the archive recorded): no request per asset. One asset
can also be looked up by id (``GET {api}/assets/{asset_id}/``).

Every request goes through :class:`~hdmf_lindi.storage.sources.HttpSource` (retries,
validation); the API token goes to the API host only (:mod:`hdmf_lindi.storage.dandi`).
"""

from __future__ import annotations

import fnmatch
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..errors import FormatError, NodeNotFoundError, RemoteReadError
from .dandi import is_download_url
from .fetcher import shared_session
from .sources import HttpSource, RemoteOptions

__all__ = [
    "INSTANCES",
    "PAGE_SIZE",
    "DandiAsset",
    "api_options",
    "asset_index_path",
    "get_asset",
    "instance_api",
    "list_assets",
    "resolve_version",
]

logger = logging.getLogger(__name__)

INSTANCES: dict[str, tuple[str, str]] = {
    "dandi": ("https://api.dandiarchive.org/api", "DANDI_API_KEY"),
    "dandi-staging": ("https://api-staging.dandiarchive.org/api", "DANDI_STAGING_API_KEY"),
    "dandi-sandbox": ("https://api.sandbox.dandiarchive.org/api", "DANDI_SANDBOX_API_KEY"),
}
"""DANDI instances by name: (API URL, environment variable of its token)."""

PAGE_SIZE = 100
"""Assets per listing page."""


@dataclass(frozen=True, slots=True)
class DandiAsset:
    """One asset of a dandiset version, as the API lists it."""

    asset_id: str
    path: str
    """The path inside the dandiset (``sub-x/sub-x_ses-y.nwb``)."""
    size: int
    download_url: str
    """``{api}/assets/{asset_id}/download/`` (redirects to a presigned URL)."""
    blob_url: str | None
    """The immutable storage URL, or None when the listing does not give one."""
    etag: str | None
    """The blob's ETag as the archive recorded it (no quotes), or None."""
    is_zarr: bool = False

    def identity(self) -> dict[str, Any]:
        """The blob's identity as the manifest records it (the ETag quoted, as S3 sends it)."""
        return {"size": self.size, **({"etag": f'"{self.etag}"'} if self.etag else {})}


def api_options(api_url: str, options: RemoteOptions | None = None, token_variable: str = "DANDI_API_KEY") -> RemoteOptions:
    """``options`` with ``api_url``'s host known as a DANDI API host (its token: ``token_variable``).

    Known hosts keep their own variable; another host (a local test server, a private
    instance) gets ``token_variable``.
    """
    options = options or RemoteOptions()
    netloc = urlsplit(api_url).netloc.lower()
    if any(host == netloc for host, _ in options.dandi_api_hosts):
        return options
    return replace(options, dandi_api_hosts=((netloc, token_variable), *options.dandi_api_hosts))


def _get_json(url: str, options: RemoteOptions) -> Any:
    """GET ``url`` (retried, validated) and parse the answer as JSON.

    Raises
    ------
    RemoteReadError
        If the request fails.
    FormatError
        If the answer is no JSON.
    """
    body = HttpSource(url, shared_session(options), options).read_all()
    try:
        return json.loads(body)
    except ValueError as exc:
        raise FormatError(f"The DANDI API answered {url} with something that is no JSON: {exc}.") from exc


def instance_api(api_url: str | None, instance: str = "dandi") -> tuple[str, str]:
    """The API URL (no trailing slash) and token variable of ``instance``, or ``api_url`` if given."""
    if instance not in INSTANCES:
        raise ValueError(f"Unknown DANDI instance {instance!r}; known: {sorted(INSTANCES)}. Or pass api_url.")
    default, variable = INSTANCES[instance]
    return (api_url or default).rstrip("/"), variable


def resolve_version(dandiset_id: str, version: str | None, api_url: str, options: RemoteOptions) -> str:
    """The version to list: ``version``, else the most recent published one, else ``draft``.

    Raises
    ------
    NodeNotFoundError
        If the dandiset does not exist (or is embargoed and no token is set).
    """
    if version:
        return version
    url = f"{api_url}/dandisets/{dandiset_id}/"
    try:
        info = _get_json(url, options)
    except RemoteReadError as exc:
        if exc.status in (401, 403, 404):
            raise NodeNotFoundError(
                f"Dandiset {dandiset_id} not found at {api_url} (the API answered {exc.status}). "
                "Check the id, and set DANDI_API_KEY for an embargoed dandiset."
            ) from exc
        raise
    published = info.get("most_recent_published_version") if isinstance(info, dict) else None
    return str(published["version"]) if isinstance(published, dict) and published.get("version") else "draft"


def list_assets(
    dandiset_id: str,
    version: str,
    *,
    api_url: str,
    glob: str | None = "*.nwb",
    options: RemoteOptions | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[DandiAsset]:
    """Yield the assets of one dandiset version whose path matches ``glob``, page by page.

    Raises
    ------
    NodeNotFoundError
        If the dandiset or version does not exist.
    FormatError
        If a page does not have the shape of the DANDI API's answers.
    """
    options = api_options(api_url, options)
    params = {"order": "path", "metadata": "1", "page_size": str(page_size)}
    if glob:
        params["glob"] = glob
    url: str | None = f"{api_url}/dandisets/{dandiset_id}/versions/{version}/assets/?{urlencode(params)}"
    api_host = urlsplit(api_url).netloc
    while url is not None:
        try:
            page = _get_json(url, options)
        except RemoteReadError as exc:
            if exc.status == 404:
                raise NodeNotFoundError(
                    f"Dandiset {dandiset_id} version {version} not found at {api_url}."
                ) from exc
            raise
        if not isinstance(page, dict) or not isinstance(page.get("results"), list):
            raise FormatError(f"{url} is not a page of the DANDI API's asset listing (no 'results' list).")
        for row in page["results"]:
            asset = _asset(row, api_url, options)
            if glob is None or fnmatch.fnmatchcase(asset.path.lower(), glob.lower()):
                yield asset
        url = page.get("next")
        if url is not None and urlsplit(url).netloc != api_host:
            raise FormatError(f"The DANDI API's next page {url} is on another host than {api_url}.")


def _asset(row: Any, api_url: str, options: RemoteOptions) -> DandiAsset:
    if not isinstance(row, dict):
        raise FormatError(f"An asset row of the DANDI API is not an object: {row!r:.200}.")
    try:
        asset_id, path, size = str(row["asset_id"]), str(row["path"]), int(row.get("size") or 0)
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"An asset row of the DANDI API lacks asset_id, path or size: {row!r:.200}.") from exc
    metadata = row.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    urls = [u for u in metadata.get("contentUrl", []) if isinstance(u, str)]
    blob_url = next((u for u in urls if not is_download_url(u, options.dandi_api_hosts)), None)
    digest = metadata.get("digest")
    etag = digest.get("dandi:dandi-etag") if isinstance(digest, dict) else None
    is_zarr = row.get("zarr") is not None or metadata.get("encodingFormat") == "application/x-zarr"
    return DandiAsset(
        asset_id=asset_id, path=path, size=size, download_url=f"{api_url}/assets/{asset_id}/download/",
        blob_url=None if is_zarr else blob_url, etag=str(etag) if etag else None, is_zarr=is_zarr,
    )


def get_asset(asset_id: str, *, api_url: str, options: RemoteOptions | None = None) -> DandiAsset:
    """Look one asset up by id (``GET {api}/assets/{asset_id}/``: its metadata).

    Raises
    ------
    NodeNotFoundError
        If there is no such asset (or it is embargoed and no token is set).
    """
    options = api_options(api_url, options)
    url = f"{api_url}/assets/{asset_id}/"
    try:
        metadata = _get_json(url, options)
    except RemoteReadError as exc:
        if exc.status in (401, 403, 404):
            raise NodeNotFoundError(f"Asset {asset_id} not found at {api_url} (the API answered {exc.status}).") from exc
        raise
    if not isinstance(metadata, dict):
        raise FormatError(f"{url} did not answer with an asset's metadata.")
    row = {"asset_id": asset_id, "path": metadata.get("path", ""), "size": metadata.get("contentSize", 0),
           "metadata": metadata}
    return _asset(row, api_url, options)


def asset_index_path(dandiset_id: str, asset_id: str, suffix: str = ".lindi.json") -> str:
    """The path of an asset's index in Neurosift's layout: ``dandisets/{id}/assets/{asset}/nwb.lindi.json``."""
    return f"dandisets/{dandiset_id}/assets/{asset_id}/nwb{suffix}"
