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

import logging
import os
from concurrent.futures import Executor
from dataclasses import replace

from ..hdf5 import IndexOptions  # at run time: the signature names it (docs)
from ..storage.dandi_api import (
    PAGE_SIZE,
    api_options,
    asset_index_path,
    instance_api,
    list_assets,
    resolve_version,
)
from .records import BatchRecord
from .schedule import _SUFFIXES, MANIFEST_NAME, Form, Progress, run_jobs
from .work import Job

__all__ = ["asset_destination", "index_dandiset"]

logger = logging.getLogger(__name__)


def asset_destination(out_dir: str, dandiset_id: str, asset_id: str, form: Form = "json") -> str:
    """Where an asset's index goes: ``{out_dir}/dandisets/{id}/assets/{asset_id}/nwb.lindi.json``."""
    return os.path.join(out_dir, *asset_index_path(dandiset_id, asset_id, _SUFFIXES[form]).split("/"))


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
    if "@" in dandiset_id:
        dandiset_id, _, given = dandiset_id.partition("@")
        version = version or given
    api, variable = instance_api(api_url, instance)
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
