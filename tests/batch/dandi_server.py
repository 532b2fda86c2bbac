"""A local stand-in for the DANDI Archive: its REST API (paged asset listings, download
redirects) and the S3 bucket holding the blobs (Range + ETag), on one :class:`RangeServer`.

The API mimics the real one (dandi-archive's ``/api/`` routes) as far as hdmf-lindi uses it:

* ``GET /api/dandisets/{id}/``: ``identifier``, ``draft_version`` and
  ``most_recent_published_version`` (``{"version": ...}`` or null);
* ``GET /api/dandisets/{id}/versions/{version}/assets/?page=&page_size=&glob=&order=&metadata=``:
  ``{"count", "next", "previous", "results"}``, ``next`` the absolute URL of the next page or
  null; each result has ``asset_id``, ``blob``, ``zarr``, ``path``, ``size``, ``created``,
  ``modified``, and with ``metadata=1`` the asset's ``metadata`` (``contentUrl``: the download
  URL and the S3 URL; ``digest`` with ``dandi:dandi-etag``; ``contentSize``; ``encodingFormat``);
* ``GET /api/assets/{asset_id}/download/`` (and the nested form): ``302`` to the blob URL.

Blobs are files under ``ROOT/blobs/<xxx>/<yyy>/<blob id>`` and answer with an S3-style quoted
MD5 ``ETag``. Faults (``misbehave``) apply to API paths and blob paths alike.

"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from httpserver import RangeServer, _Handler

__all__ = ["Asset", "DandiServer"]


@dataclass
class Asset:
    """One asset of the synthetic dandiset."""

    asset_id: str
    path: str
    blob: str | None
    """The blob id (None for a Zarr asset)."""
    size: int
    etag: str
    """Quoted, as S3 sends it."""
    zarr: str | None = None


def _etag(path: Path) -> str:
    return '"' + hashlib.md5(path.read_bytes()).hexdigest() + '"'


class _DandiHandler(_Handler):
    def _serve(self, *, with_body: bool) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        owner: DandiServer = self.server.owner  # type: ignore[assignment]
        if not path.startswith("/api/"):
            super()._serve(with_body=with_body)
            return
        self._query = parts.query
        bad = owner._take(path, parts.query)
        if bad.latency_s:
            time.sleep(bad.latency_s)
        if bad.reset_times < 0:
            self._reset(path)
            return
        if bad.status is not None:
            self._send(path, bad.status, b"forced\n", {}, with_body, bad)
            return
        status, body, headers = owner.api(path, parse_qs(parts.query))
        self._send(path, status, body, headers, with_body, bad)


class DandiServer(RangeServer):
    """The DANDI API and its blob bucket on ``127.0.0.1`` (see the module docstring)."""

    def __init__(self, root: Path, dandiset_id: str = "000001", published: str | None = None) -> None:
        super().__init__(root)
        self._httpd.RequestHandlerClass = _DandiHandler
        self.dandiset_id = dandiset_id
        self.published = published
        """The most recent published version, or None (draft only)."""
        self.assets: list[Asset] = []

    @property
    def api_url(self) -> str:
        """The base API URL (``.../api``), as ``api_url`` of the library takes it."""
        return self.url("api")

    def _validators(self, path: str) -> dict[str, str]:
        """A blob answers with an S3-style ETag: the quoted MD5 of its bytes."""
        target = self._file(path)
        if path.startswith("/blobs/") and target is not None:
            return {"ETag": _etag(target)}
        return super()._validators(path)

    def blob_path(self, blob: str) -> str:
        return f"blobs/{blob[:3]}/{blob[3:6]}/{blob}"

    def blob_url(self, blob: str) -> str:
        """The blob's storage URL. Its host is spelled ``localhost`` (the API's ``127.0.0.1``),
        so that the storage host is another host than the API to the client, as S3 is."""
        return f"http://localhost:{self.port}/{self.blob_path(blob)}"

    def add_asset(self, path: str, content: Path | None, *, zarr: bool = False) -> Asset:
        """Add an asset at ``path`` with the bytes of ``content`` (a Zarr asset has none)."""
        asset_id = str(uuid.uuid4())
        if zarr:
            asset = Asset(asset_id, path, None, 0, "", zarr=str(uuid.uuid4()))
        else:
            assert content is not None
            blob = str(uuid.uuid4())
            target = self.root / self.blob_path(blob)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(content, target)
            asset = Asset(asset_id, path, blob, target.stat().st_size, _etag(target))
        self.assets.append(asset)
        return asset

    def replace_blob(self, asset: Asset, content: Path) -> None:
        """Overwrite an asset's blob bytes in place (the listing then reports its new size and ETag)."""
        assert asset.blob is not None
        target = self.root / self.blob_path(asset.blob)
        shutil.copyfile(content, target)
        asset.size, asset.etag = target.stat().st_size, _etag(target)

    def remove_blob(self, asset: Asset) -> None:
        """Delete an asset's blob from the bucket (its URL then answers 404)."""
        assert asset.blob is not None
        (self.root / self.blob_path(asset.blob)).unlink()

    # ------------------------------------------------------------------ the API
    def api(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes, dict[str, str]]:
        """Answer an API request: (status, body, headers)."""
        parts = [p for p in path.split("/") if p][1:]  # drop "api"
        prefix = ["dandisets", self.dandiset_id]
        if parts[:1] == ["assets"] and len(parts) == 3 and parts[2] == "download":
            return self._download(parts[1])
        if parts[:1] == ["assets"] and len(parts) == 2:
            found = [a for a in self.assets if a.asset_id == parts[1]]
            return self._json(200, self._metadata(found[0])) if found else self._json(404, {"detail": "Not found."})
        if parts[:2] != prefix:
            return self._json(404, {"detail": "Not found."})
        if len(parts) == 2:
            return self._json(200, self._dandiset())
        if len(parts) >= 5 and parts[2] == "versions" and parts[4] == "assets":
            if parts[3] not in ("draft", self.published):
                return self._json(404, {"detail": "Not found."})
            if len(parts) == 5:
                return self._json(200, self._page(path, query))
            if len(parts) == 7 and parts[6] == "download":
                return self._download(parts[5])
        return self._json(404, {"detail": "Not found."})

    def _json(self, status: int, data: Any) -> tuple[int, bytes, dict[str, str]]:
        return status, json.dumps(data).encode(), {}

    def _version(self, version: str) -> dict[str, Any]:
        return {"version": version, "name": "synthetic", "asset_count": len(self.assets), "size": 0,
                "status": "Valid", "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z"}

    def _dandiset(self) -> dict[str, Any]:
        return {
            "identifier": self.dandiset_id, "created": "2026-01-01T00:00:00Z",
            "modified": "2026-01-01T00:00:00Z", "contact_person": "", "embargo_status": "OPEN",
            "draft_version": self._version("draft"),
            "most_recent_published_version": self._version(self.published) if self.published else None,
        }

    def _metadata(self, asset: Asset) -> dict[str, Any]:
        download = self.url(f"api/assets/{asset.asset_id}/download/")
        if asset.zarr is not None:
            return {"id": f"dandiasset:{asset.asset_id}", "path": asset.path, "identifier": asset.asset_id,
                    "contentUrl": [download, self.url(f"zarr/{asset.zarr}/")],
                    "encodingFormat": "application/x-zarr", "contentSize": 0, "digest": {}}
        assert asset.blob is not None
        return {
            "id": f"dandiasset:{asset.asset_id}", "identifier": asset.asset_id, "path": asset.path,
            "contentUrl": [download, self.blob_url(asset.blob)],
            "contentSize": asset.size, "encodingFormat": "application/x-nwb",
            "digest": {"dandi:dandi-etag": asset.etag.strip('"'), "dandi:sha2-256": "0" * 64},
        }

    def _page(self, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        page = int(query.get("page", ["1"])[0])
        size = int(query.get("page_size", ["100"])[0])
        found = list(self.assets)
        if "glob" in query:
            found = [a for a in found if fnmatch.fnmatchcase(a.path.lower(), query["glob"][0].lower())]
        if query.get("order", [""])[0] == "path":
            found.sort(key=lambda a: a.path)
        with_metadata = query.get("metadata", ["0"])[0].lower() in ("1", "true")
        rows = []
        for a in found[(page - 1) * size:page * size]:
            row: dict[str, Any] = {"asset_id": a.asset_id, "blob": a.blob, "zarr": a.zarr, "path": a.path,
                                   "size": a.size, "created": "2026-01-01T00:00:00Z",
                                   "modified": "2026-01-01T00:00:00Z"}
            if with_metadata:
                row["metadata"] = self._metadata(a)
            rows.append(row)
        pages = max(1, math.ceil(len(found) / size))

        def link(n: int) -> str | None:
            if n < 1 or n > pages:
                return None
            params = {k: v[0] for k, v in query.items()} | {"page": str(n)}
            return self.url(path.lstrip("/")) + "?" + urlencode(params)

        return {"count": len(found), "next": link(page + 1), "previous": link(page - 1), "results": rows}

    def _download(self, asset_id: str) -> tuple[int, bytes, dict[str, str]]:
        for a in self.assets:
            if a.asset_id == asset_id and a.blob is not None:
                return 302, b"", {"Location": self.blob_url(a.blob)}
        return self._json(404, {"detail": "Not found."})
