"""Read a Zarr directory store (one file per key), local or over HTTP: metadata and chunk files.

A Zarr directory store is hdmf-zarr's default form: ``zarr.json`` (Zarr v3) or ``.zgroup`` /
``.zattrs`` / ``.zarray`` (Zarr v2) beside every node, and one file per chunk. This module only
moves bytes; turning the metadata into the in-memory model is the dialect's job (``format/``).

Metadata:

* Zarr v3: the root ``zarr.json``; if it carries an inline ``consolidated_metadata`` block, that
  block lists every node (one request over HTTP). Otherwise, locally, every ``zarr.json`` below the
  root is read (the folders of an array are not walked: they hold chunks). Over HTTP a store
  without consolidated metadata cannot be walked -- a v3 group does not list its children -- so
  opening it raises :class:`~hdmf_lindi.errors.UnsupportedError` saying how to consolidate it.
* Zarr v2: ``.zmetadata`` (consolidated) if present, else the local ``.zgroup``/``.zattrs``/``.zarray``
  files (same HTTP limit).

Chunks: :meth:`ZarrDirReader.read_keys` reads whole files by store key, concurrently on the
process-wide pool for URLs. An absent file (local: no such file; HTTP: ``404``) is ``None``, which
readers take as "every element is the fill value"; any other failure raises our errors.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from ..errors import FormatError, MissingFileError, RemoteReadError, UnsupportedError
from .fetcher import Fetcher, shared_pool
from .sources import HttpSource, is_url
from .stats import record_read

__all__ = ["StoreDialect", "ZarrDirReader", "is_folder_url", "is_store_url", "sniff_local_store"]

logger = logging.getLogger(__name__)

StoreDialect = Literal["zarr3", "zarr2"]
"""Which Zarr version a directory store is written in."""

V3_META = "zarr.json"
V2_META = (".zgroup", ".zattrs", ".zarray")
V2_CONSOLIDATED = ".zmetadata"
LINDI_DIR_DOC = "lindi.json"
_STORE_URL_SUFFIXES = (".zarr", ".zarr/", "/zarr.json", "/.zgroup", "/.zmetadata")


def sniff_local_store(location: str) -> StoreDialect | None:
    """The dialect of a local Zarr directory store at ``location``, or None if it is not one
    (a file, a ``.lindi.d`` directory, or a directory without root metadata). Never raises."""
    if not os.path.isdir(location) or os.path.isfile(os.path.join(location, LINDI_DIR_DOC)):
        return None
    if os.path.isfile(os.path.join(location, V3_META)):
        return "zarr3"
    if os.path.isfile(os.path.join(location, ".zgroup")):
        return "zarr2"
    return None


def is_store_url(url: str) -> bool:
    """Whether an http(s) URL names a Zarr directory store: its path ends in ``.zarr`` (or
    ``.zarr/``), or names the store's root ``zarr.json``, ``.zgroup`` or ``.zmetadata``."""
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    return is_url(url) and path.endswith(_STORE_URL_SUFFIXES)


def is_folder_url(url: str) -> bool:
    """Whether an http(s) URL ends in ``/`` (not a ``.lindi.d/``, not the host's root): it may
    name a store folder (DANDI addresses its Zarr assets so), tried when it is not a document."""
    path = urlsplit(url.split("#", 1)[0]).path
    return is_url(url) and path.endswith("/") and path not in ("", "/") and not path.rstrip("/").endswith(".d")


def store_root_url(url: str) -> str:
    """The store's base URL (no trailing ``/``) for a URL accepted by :func:`is_store_url`."""
    base = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    for name in (V3_META, ".zgroup", V2_CONSOLIDATED):
        if base.endswith("/" + name):
            return base[: -len(name) - 1]
    return base


def _parse(data: bytes, where: str) -> dict[str, Any]:
    """Parse a metadata document (zarr-python's non-strict JSON: bare NaN/Infinity accepted)."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{where} is not a valid JSON metadata document: {exc}.") from exc
    if not isinstance(doc, dict):
        raise FormatError(f"{where} must hold a JSON object, not {type(doc).__name__}.")
    return doc


def _start_pool_threads(fetcher: Fetcher) -> threading.Event:
    """Have the process-wide request pool start its threads now, each waiting (at most 1 s) for
    the returned event; a pool whose threads run already is left alone."""
    release = threading.Event()
    pool = shared_pool(fetcher.options)
    missing = fetcher.options.max_workers - len(getattr(pool, "_threads", ()))
    for _ in range(max(missing, 0)):
        pool.submit(release.wait, 1.0)
    return release


@dataclass
class ZarrDirReader:
    """The files of one Zarr directory store.

    Use :meth:`open` (it finds the dialect and loads the metadata); then ``metadata`` maps
    store keys (``zarr.json``, ``a/b/zarr.json`` or ``.zgroup``, ``a/.zarray`` ...) to parsed
    documents, and :meth:`read_keys` reads any other key (chunks).
    """

    location: str
    """The store's local path (absolute) or base URL (no trailing ``/``)."""
    fetcher: Fetcher
    dialect: StoreDialect = "zarr3"
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    consolidated: bool = False
    """Whether ``metadata`` came from a consolidated block (one document)."""

    @property
    def remote(self) -> bool:
        """Whether the store is read over HTTP."""
        return is_url(self.location)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, location: str, fetcher: Fetcher) -> ZarrDirReader:
        """Find the store's dialect and load its metadata.

        Raises
        ------
        MissingFileError
            If there is no store at ``location``.
        FormatError
            If a metadata document is not a JSON object, or the root is not a Zarr group.
        UnsupportedError
            For a store read over HTTP without consolidated metadata.
        RemoteReadError
            If the root document cannot be fetched (other than ``404``).
        """
        if is_url(location):
            reader = cls(store_root_url(location), fetcher)
            reader._open_remote()
        else:
            location = os.path.abspath(location)
            dialect = sniff_local_store(location)
            if dialect is None:
                raise MissingFileError(
                    f"{location} is not a Zarr directory store: it has no zarr.json (Zarr v3) or "
                    ".zgroup (Zarr v2) at its root."
                )
            reader = cls(location, fetcher, dialect)
            reader._open_local()
        logger.debug(
            "opened Zarr store %s (%s, %d metadata documents, consolidated=%s)",
            reader.location, reader.dialect, len(reader.metadata), reader.consolidated,
        )
        return reader

    def _open_local(self) -> None:
        if self.dialect == "zarr3":
            root = _parse(self._read_local(V3_META) or b"", self._where(V3_META))
            self._check_root(root)
            if not self._use_consolidated_v3(root):
                self._walk_local_v3()
        else:
            data = self._read_local(V2_CONSOLIDATED)
            if data is None or not self._use_consolidated_v2(_parse(data, self._where(V2_CONSOLIDATED))):
                self._walk_local_v2()

    def _open_remote(self) -> None:
        # start the request threads while the root document is on its way: the chunk reads that
        # follow need them, and starting them costs a little each (more on a loaded machine)
        started = _start_pool_threads(self.fetcher)
        try:
            data = self._fetch_optional(V3_META)
        finally:
            started.set()
        if data is not None:
            self.dialect = "zarr3"
            root = _parse(data, self._where(V3_META))
            self._check_root(root)
            if not self._use_consolidated_v3(root):
                raise UnsupportedError(
                    f"The Zarr v3 store {self.location} has no consolidated metadata in its root "
                    "zarr.json, and over HTTP its nodes cannot be listed (a v3 group does not name "
                    "its children). Consolidate it (zarr.consolidate_metadata(store), or write it "
                    "with NWBZarrIO's default consolidate_metadata=True), or open a local copy."
                )
            return
        self.dialect = "zarr2"
        data = self._fetch_optional(V2_CONSOLIDATED)
        if data is None or not self._use_consolidated_v2(_parse(data, self._where(V2_CONSOLIDATED))):
            if self._fetch_optional(".zgroup") is None:
                raise MissingFileError(
                    f"{self.location} is not a Zarr store: neither {V3_META} nor .zgroup exists there "
                    "(HTTP 404)."
                )
            raise UnsupportedError(
                f"The Zarr v2 store {self.location} has no {V2_CONSOLIDATED}, and over HTTP its "
                "nodes cannot be listed. Consolidate it (zarr.consolidate_metadata with zarr 2) or "
                "open a local copy."
            )

    def _check_root(self, root: dict[str, Any]) -> None:
        if root.get("zarr_format") != 3 or root.get("node_type") != "group":
            raise FormatError(
                f"{self._where(V3_META)} is not the root group of a Zarr v3 store (zarr_format "
                f"{root.get('zarr_format')!r}, node_type {root.get('node_type')!r})."
            )

    def _use_consolidated_v3(self, root: dict[str, Any]) -> bool:
        """Take every node's metadata from the root's inline consolidated block; False if absent."""
        block = root.get("consolidated_metadata")
        self.metadata = {V3_META: root}
        if block is None:
            return False
        if not isinstance(block, dict) or not isinstance(block.get("metadata"), dict):
            raise FormatError(
                f"The consolidated_metadata of {self._where(V3_META)} must be an object with a "
                f"'metadata' object, got {block!r:.200}."
            )
        if block.get("kind", "inline") != "inline":
            raise UnsupportedError(
                f"{self._where(V3_META)} has consolidated metadata of kind {block.get('kind')!r}; "
                "only 'inline' is known."
            )
        for path, doc in block["metadata"].items():
            if not isinstance(doc, dict) or not isinstance(path, str):
                raise FormatError(
                    f"Entry {path!r} of the consolidated metadata in {self._where(V3_META)} must be a "
                    "metadata object."
                )
            self.metadata[f"{path.strip('/')}/{V3_META}"] = doc
        self.consolidated = True
        return True

    def _use_consolidated_v2(self, doc: dict[str, Any]) -> bool:
        meta = doc.get("metadata")
        if not isinstance(meta, dict):
            return False
        for key, value in meta.items():
            if not isinstance(value, dict):
                raise FormatError(f"Entry {key!r} of {self._where(V2_CONSOLIDATED)} must be a JSON object.")
        self.metadata = dict(meta)
        self.consolidated = True
        return True

    def _walk_local_v3(self) -> None:
        for dirpath, dirnames, filenames in os.walk(self.location):
            dirnames.sort()
            rel = os.path.relpath(dirpath, self.location).replace(os.sep, "/")
            if rel == ".":
                continue
            if V3_META not in filenames:
                dirnames[:] = []  # no node here (v3 has no implicit groups): nothing below is one
                continue
            key = f"{rel}/{V3_META}"
            doc = _parse(self._read_local(key) or b"", self._where(key))
            self.metadata[key] = doc
            if doc.get("node_type") == "array":
                dirnames[:] = []  # chunk folders

    def _walk_local_v2(self) -> None:
        for dirpath, dirnames, filenames in os.walk(self.location):
            dirnames.sort()
            rel = os.path.relpath(dirpath, self.location).replace(os.sep, "/")
            prefix = "" if rel == "." else rel + "/"
            found = [n for n in V2_META if n in filenames]
            if not found:
                dirnames[:] = []
                continue
            for name in found:
                self.metadata[prefix + name] = _parse(self._read_local(prefix + name) or b"", self._where(prefix + name))
            if ".zarray" in found:
                dirnames[:] = []

    # ------------------------------------------------------------------ reading keys
    def _where(self, key: str) -> str:
        return self._url(key) if self.remote else os.path.join(self.location, *key.split("/"))

    def _url(self, key: str) -> str:
        return f"{self.location}/{quote(key)}"

    def _read_local(self, key: str) -> bytes | None:
        path = os.path.join(self.location, *key.split("/"))
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except IsADirectoryError:
            raise FormatError(f"{path} is a folder where the store should hold a file.") from None
        record_read(self.fetcher.stats, self.location, len(data))
        return data

    def _fetch_optional(self, key: str) -> bytes | None:
        """GET one key of a remote store; None for ``404``."""
        source = HttpSource(self._url(key), self.fetcher.session, self.fetcher.options, stats=self.fetcher.stats)
        try:
            return source.read_all()
        except RemoteReadError as exc:
            if exc.status == 404:
                return None
            raise

    def read_keys(
        self, keys: Sequence[str], on_ready: Callable[[list[int], list[bytes | None]], None] | None = None
    ) -> list[bytes | None]:
        """Return the content of each store key, ``None`` for an absent one.

        URLs are fetched concurrently on the process-wide pool (one GET per key);
        ``on_ready(indices, out)`` is told, in this thread, as each one arrives.

        Raises
        ------
        RemoteReadError
            If a GET fails with another status than ``404`` (after the usual retries).
        FormatError
            If a key names a folder of a local store.
        """
        out: list[bytes | None] = [None] * len(keys)
        if not self.remote:
            for i, key in enumerate(keys):
                out[i] = self._read_local(key)
                if on_ready is not None:
                    on_ready([i], out)
            return out
        if len(keys) == 1:
            out[0] = self._fetch_optional(keys[0])
            if on_ready is not None:
                on_ready([0], out)
            return out
        pool = shared_pool(self.fetcher.options)
        futures: dict[Future[bytes | None], int] = {pool.submit(self._fetch_optional, key): i for i, key in enumerate(keys)}
        try:
            for future in as_completed(futures):  # hand each file on as it arrives
                i = futures[future]
                out[i] = future.result()  # the first failure raises; the rest are cancelled
                if on_ready is not None:
                    on_ready([i], out)
        finally:
            for future in futures:
                future.cancel()
        return out
