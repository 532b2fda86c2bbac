"""DANDI dandisets: list a version's assets through the DANDI API and index them all.

The listing is one paged walk of ``GET {api}/dandisets/{id}/versions/{version}/assets/`` with
``metadata=1`` (so each row carries its ``contentUrl`` and ``digest``): no request per asset.
Each asset resolves to its immutable blob URL on the storage host, with the size and ETag the
archive recorded; the index references the blob URL, and that identity is what resume compares
(so resuming a finished dandiset costs the listing and no request per asset).

Results are laid out as Neurosift's pre-indexing bucket is, so the folder can be served as-is::

    {out_dir}/dandisets/{dandiset id}/assets/{asset id}/nwb.lindi.json

All HTTP goes through :mod:`hdmf_lindi.storage` (retries, validation); the API token
(``DANDI_API_KEY``, or the staging/sandbox variable) goes to the API host only
(:mod:`hdmf_lindi.storage.dandi`).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from ..errors import FormatError, NodeNotFoundError, RemoteReadError
from ..storage.dandi import is_download_url
from ..storage.fetcher import shared_session
from ..storage.sources import HttpSource, RemoteOptions
from .records import BatchRecord
from .schedule import _SUFFIXES, MANIFEST_NAME, Form, Progress, run_jobs
from .work import Job

if TYPE_CHECKING:
    from ..hdf5 import IndexOptions

__all__ = ["INSTANCES", "DandiAsset", "api_options", "index_dandiset", "list_assets", "resolve_version"]

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


def _api(api_url: str | None, instance: str) -> tuple[str, str]:
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


def asset_destination(out_dir: str, dandiset_id: str, asset_id: str, form: Form = "json") -> str:
    """Where an asset's index goes: ``{out_dir}/dandisets/{id}/assets/{asset_id}/nwb.lindi.json``."""
    return os.path.join(out_dir, "dandisets", dandiset_id, "assets", asset_id, "nwb" + _SUFFIXES[form])


def index_dandiset(
    dandiset_id: str,
    out_dir: str | os.PathLike[str],
    *,
    version: str | None = None,
    glob: str | None = "*.nwb",
    api_url: str | None = None,
    instance: str = "dandi",
    form: Form = "json",
    executor: Executor | None = None,
    max_workers: int | None = None,
    scheduler: str | None = None,
    options: IndexOptions | None = None,
    manifest: str | os.PathLike[str] | None = None,
    resume: bool = True,
    retries: int = 2,
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
) -> list[BatchRecord]:
    """Index every NWB asset of a dandiset version into ``out_dir`` (Neurosift's layout), in parallel.

    Parameters
    ----------
    dandiset_id
        ``"000017"``, or ``"000017@0.220126.1853"`` with the version.
    out_dir
        The root of the layout (see the module docstring).
    version
        A published version or ``"draft"``; default: the most recent published one, else draft.
    glob
        Only assets whose path matches (case-insensitive, as the API matches); None for all.
    api_url, instance
        The DANDI API (``.../api``); by default that of ``instance`` (``dandi``,
        ``dandi-staging``, ``dandi-sandbox``).
    form, executor, max_workers, scheduler, options, manifest, resume, retries, progress
        As for :func:`~hdmf_lindi.batch.index_many`; ``manifest`` defaults to
        ``out_dir/manifest.jsonl``.
    page_size
        Assets per listing page.

    Returns
    -------
    list of BatchRecord
        One per asset, in path order. Zarr assets are ``unsupported``.

    Raises
    ------
    NodeNotFoundError
        If the dandiset or version does not exist.
    """
    from ..hdf5 import IndexOptions

    if "@" in dandiset_id:
        dandiset_id, _, given = dandiset_id.partition("@")
        version = version or given
    api, variable = _api(api_url, instance)
    index_options = replace(options or IndexOptions(), progress=None)
    remote = api_options(api, index_options.remote, variable)
    version = resolve_version(dandiset_id, version, api, remote)
    out = os.fspath(out_dir)
    jobs = []
    for asset in list_assets(dandiset_id, version, api_url=api, glob=glob, options=remote, page_size=page_size):
        url = asset.blob_url or asset.download_url
        jobs.append(Job(
            "index", f"dandi://{dandiset_id}@{version}/{asset.path}", url,
            asset_destination(out, dandiset_id, asset.asset_id, form),
            index_options=index_options, remote=remote, retries=retries,
            identity=asset.identity() if asset.blob_url else None,
            metadata={"dandiset": dandiset_id, "version": version, "asset_id": asset.asset_id,
                      "asset_path": asset.path},
            unsupported="a Zarr asset: nothing to index" if asset.is_zarr else None,
        ))
    logger.info("dandiset %s@%s: %d assets to index", dandiset_id, version, len(jobs))
    return run_jobs(
        jobs, manifest=manifest if manifest is not None else os.path.join(out, MANIFEST_NAME),
        resume=resume, executor=executor, max_workers=max_workers, scheduler=scheduler, progress=progress,
    )
