"""Open DANDI assets by name: ``dandi://<dandiset>[@<version>]/<path>`` or ``dandi://<asset id>``.

:func:`open_dandi` resolves the name through the DANDI API (one request: the asset's row of a
listing filtered by its path, or the asset's metadata) to the asset's immutable blob URL, size
and ETag, then opens the first of:

1. a pre-built index in one of the configured index locations (local folders or http(s) base
   URLs laid out as ``dandisets/<id>/assets/<asset id>/nwb.lindi.json``, the layout
   ``hdmf-lindi index-dandiset`` writes and Neurosift serves), if it was made from this asset;
2. an index in the on-disk cache, keyed by the blob's URL, size and ETag (an index of changed
   bytes is never found again);
3. a new index of the blob (no chunk copied), written to the cache for next time.

So a second open of the same asset costs the one API request, and nothing else before data.
Configuration: :class:`DandiOptions` (``DandiOptions.from_env()`` reads its environment
variables; ``NWBLindiIO``/``read_nwb`` use it for ``dandi://`` paths).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import FormatError, ModeError, NodeNotFoundError, RemoteReadError, UnsupportedError
from ..storage.dandi_api import (
    DandiAsset,
    api_options,
    asset_index_path,
    get_asset,
    instance_api,
    list_assets,
    resolve_version,
)
from ..storage.sources import RemoteOptions, is_url
from .file import File

__all__ = ["DandiName", "DandiOptions", "is_dandi_name", "open_dandi", "parse_dandi_name", "resolve_asset"]

SCHEME = "dandi://"
_ASSET_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DANDISET = re.compile(r"(\d{6})(?:@([^/]+))?/(.+)")


def _default_cache_dir(environ: Mapping[str, str]) -> str:
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hdmf-lindi", "indexes")


@dataclass(frozen=True, slots=True)
class DandiOptions:
    """Where ``dandi://`` names are resolved and where their indexes are looked for."""

    api_url: str | None = None
    """The DANDI API (``https://.../api``); default: that of ``instance``."""
    instance: str = "dandi"
    """``dandi``, ``dandi-staging`` or ``dandi-sandbox``."""
    index_locations: tuple[str, ...] = ()
    """Folders or http(s) base URLs holding pre-built indexes in Neurosift's layout."""
    cache_dir: str | None = None
    """Where indexes made on open are kept (keyed by blob identity); None for no cache."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> DandiOptions:
        """Read ``HDMF_LINDI_DANDI_API_URL``, ``DANDI_INSTANCE`` (as dandi-cli does),
        ``HDMF_LINDI_DANDI_INDEXES`` (comma-separated locations) and ``HDMF_LINDI_INDEX_CACHE``
        (a directory, or ``off``; default ``$XDG_CACHE_HOME/hdmf-lindi/indexes``)."""
        cache = environ.get("HDMF_LINDI_INDEX_CACHE") or _default_cache_dir(environ)
        locations = tuple(p.strip() for p in environ.get("HDMF_LINDI_DANDI_INDEXES", "").split(",") if p.strip())
        return cls(
            api_url=environ.get("HDMF_LINDI_DANDI_API_URL") or None,
            instance=environ.get("DANDI_INSTANCE", "dandi"),
            index_locations=locations,
            cache_dir=None if cache.lower() == "off" else cache,
        )


@dataclass(frozen=True, slots=True)
class DandiName:
    """A parsed ``dandi://`` name: a dandiset path, or an asset id."""

    dandiset_id: str | None = None
    version: str | None = None
    path: str | None = None
    asset_id: str | None = None


def is_dandi_name(location: str) -> bool:
    """Whether ``location`` is a ``dandi://`` name."""
    return location.startswith(SCHEME)


def parse_dandi_name(name: str) -> DandiName:
    """Parse ``dandi://000017[@version]/path/in/dandiset.nwb`` or ``dandi://<asset id>``.

    Raises
    ------
    FormatError
        If ``name`` has neither form.
    """
    rest = name[len(SCHEME):] if is_dandi_name(name) else name
    if _ASSET_ID.fullmatch(rest.rstrip("/")):
        return DandiName(asset_id=rest.rstrip("/").lower())
    match = _DANDISET.fullmatch(rest)
    if match is None:
        raise FormatError(
            f"{name!r} is not a DANDI name. Use dandi://<6-digit dandiset>[@<version>]/<path> or "
            "dandi://<asset id>."
        )
    return DandiName(dandiset_id=match.group(1), version=match.group(2), path=match.group(3))


def resolve_asset(name: DandiName, api_url: str, options: RemoteOptions) -> tuple[DandiAsset, str | None]:
    """The asset a name means, and its dandiset (None for an asset id). One API request.

    Raises
    ------
    NodeNotFoundError
        If there is no such dandiset, version or asset.
    """
    if name.asset_id is not None:
        return get_asset(name.asset_id, api_url=api_url, options=options), None
    assert name.dandiset_id is not None and name.path is not None
    version = name.version or resolve_version(name.dandiset_id, None, api_url, options)
    for asset in list_assets(name.dandiset_id, version, api_url=api_url, glob=name.path, options=options):
        if asset.path == name.path:
            return asset, name.dandiset_id
    raise NodeNotFoundError(f"Dandiset {name.dandiset_id} version {version} has no asset {name.path!r}.")


def _prebuilt(asset: DandiAsset, dandiset_id: str, locations: tuple[str, ...], options: RemoteOptions) -> File | None:
    """Open the asset's index from the first location that has one made from this asset."""
    relative = asset_index_path(dandiset_id, asset.asset_id)
    for location in locations:
        if is_url(location):
            try:
                f = File(location.rstrip("/") + "/" + relative, options=options)
            except RemoteReadError as exc:
                if exc.status in (403, 404):
                    continue
                raise
        else:
            candidate = os.path.join(location, *relative.split("/"))
            if not os.path.exists(candidate):
                continue
            f = File(candidate, options=options)
        if _made_from(f.container.refmap.generation_metadata) in (None, asset.asset_id):
            return f
        f.close()
    return None


def _made_from(metadata: Any) -> str | None:
    """The asset id an index says it was made from (ours, or ``index_hdf5``'s DANDI pinning), if any."""
    if not isinstance(metadata, dict):
        return None
    pinned = metadata.get("dandi")
    found = metadata.get("asset_id") or (pinned.get("asset_id") if isinstance(pinned, dict) else None)
    return str(found) if found else None


def _cache_path(cache_dir: str, asset: DandiAsset, url: str) -> str:
    key = hashlib.sha1(f"{url}\n{asset.size}\n{asset.etag}".encode()).hexdigest()
    return os.path.join(cache_dir, key[:2], key + ".lindi.json")


def open_dandi(
    name: str, mode: str = "r", options: RemoteOptions | None = None, dandi: DandiOptions | None = None
) -> File:
    """Open a DANDI asset by name as a read-only :class:`~hdmf_lindi.File` (see the module docstring).

    Raises
    ------
    FormatError
        If ``name`` is not a DANDI name.
    NodeNotFoundError
        If the dandiset, version or asset does not exist.
    UnsupportedError
        For a Zarr asset.
    ModeError
        For a mode other than ``r``.
    """
    if mode != "r":
        raise ModeError(f"{name} opens read-only (mode 'r'), got {mode!r}; write a LINDI file instead.")
    dandi = dandi or DandiOptions.from_env()
    parsed = parse_dandi_name(name)
    api, variable = instance_api(dandi.api_url, dandi.instance)
    remote = api_options(api, options, variable)
    asset, dandiset_id = resolve_asset(parsed, api, remote)
    if asset.is_zarr:
        raise UnsupportedError(f"{name} is a Zarr asset; open its Zarr store with zarr instead.")
    if dandiset_id is not None:
        found = _prebuilt(asset, dandiset_id, dandi.index_locations, remote)
        if found is not None:
            return found
    url = asset.blob_url or asset.download_url
    cached = _cache_path(dandi.cache_dir, asset, url) if dandi.cache_dir else None
    if cached is not None and os.path.exists(cached):
        return File(cached, options=remote)
    from ..hdf5 import IndexOptions, index_hdf5, save_refmap  # h5py only when indexing

    refmap = index_hdf5(url, options=IndexOptions(remote=remote))
    extra: dict[str, Any] = {"asset_id": asset.asset_id, "asset_path": asset.path}
    if dandiset_id is not None:
        extra["dandiset"] = dandiset_id
    if isinstance(refmap.generation_metadata, dict):
        refmap.generation_metadata.update(extra)
    if cached is None:
        return File(refmap, options=remote, allow_local_paths=False)
    os.makedirs(os.path.dirname(cached), exist_ok=True)
    save_refmap(refmap, cached)
    return File(cached, options=remote)
