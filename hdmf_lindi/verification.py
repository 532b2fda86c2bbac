"""``verify``: check that a LINDI file still reads as it was written, without reading its sources' data.

Per referenced file or URL (one ``stat``, or one HEAD / 1-byte GET):

* it exists and, where the LINDI file records its identity (see
  :mod:`~hdmf_lindi.storage.identity`), it is still the same (size, mtime or ETag);
* every chunk reference to it ends inside it (this is all that can be checked in files without
  recorded identities, such as lindi's).

And in the file itself: every inline chunk and every chunk stored inside the container (a blob
of a ``.lindi.tar`` or ``.lindi.d``) is read and decoded with its array's codecs to the expected
size (skip with ``decode=False``). A Zarr v3 file (or an hdmf-zarr store) is read through the
same translation as :class:`~hdmf_lindi.File` uses, and its chunks are named by their keys in
the file (``x/c/0/1``); the chunk files of a Zarr directory store are read and decoded too. Nothing raises for a problem found: all are collected in the
:class:`VerifyReport`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import LindiError, RemoteReadError
from .format.objects import decode_object_chunk
from .format.zarr_v2 import ArrayMeta
from .storage.containers import Container, open_container
from .storage.identity import SourceIdentity, local_identity, read_identities
from .storage.refmap import RangeRef
from .storage.sources import HttpSource, RemoteOptions, is_url
from .storage.zarr_dir_container import ZarrDirContainer
from .tree.file import adopt_dialect

__all__ = ["SourceCheck", "VerifyReport", "verify"]

logger = logging.getLogger(__name__)

_METADATA = (".zarray", ".zattrs", ".zgroup")
BATCH_BYTES = 64 << 20
"""Internal chunks are read (and decoded) this many bytes at a time."""
_STORE_BATCH = 256
"""Chunk files of a Zarr directory store are read this many at a time."""
MAX_LISTED = 20
"""At most this many chunk problems are listed one by one; the rest are counted."""


@dataclass
class SourceCheck:
    """What :func:`verify` found for one referenced file or URL."""

    url: str
    """The url or path as the references spell it."""
    references: int = 0
    """How many chunk references point at it."""
    max_end: int = 0
    """The largest ``offset + length`` of those references."""
    recorded: SourceIdentity | None = None
    """The identity the LINDI file records for it, if any."""
    found: SourceIdentity | None = None
    """Its identity now, or None if it could not be reached."""
    problems: list[str] = field(default_factory=list)
    """What is wrong; empty when all is well."""

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong with this source."""
        return not self.problems


@dataclass
class VerifyReport:
    """The result of :func:`verify` for one LINDI file."""

    location: str
    sources: list[SourceCheck] = field(default_factory=list)
    """One entry per referenced file or URL, in order of first reference."""
    chunks_decoded: int = 0
    """How many inline and internal chunks were decoded."""
    problems: list[str] = field(default_factory=list)
    """Problems of the file itself (chunks that do not read or decode, bad metadata)."""
    zarr_store: bool = False
    """Whether the location is a Zarr directory store, whose decoded chunks are its chunk files."""

    @property
    def ok(self) -> bool:
        """Whether nothing at all is wrong."""
        return not self.problems and all(s.ok for s in self.sources)

    def lines(self) -> list[str]:
        """A human-readable report, one line per source and per problem."""
        out = [f"{self.location}: {'OK' if self.ok else 'PROBLEMS'}"]
        for s in self.sources:
            how = "identity and sizes" if s.recorded is not None else "sizes only (no identity recorded)"
            out.append(f"  {'ok ' if s.ok else 'BAD'} {s.url} ({s.references} references; {how})")
            out.extend(f"      {p}" for p in s.problems)
        what = "store chunk files" if self.zarr_store else "inline/internal chunks"
        out.append(f"  {self.chunks_decoded} {what} decoded")
        out.extend(f"  BAD {p}" for p in self.problems)
        return out


def verify(
    location: str | os.PathLike[str],
    *,
    options: RemoteOptions | None = None,
    decode: bool = True,
    allow_local_paths: bool | None = None,
) -> VerifyReport:
    """Check a LINDI file's referenced sources and its own chunks; see the module docstring.

    Parameters
    ----------
    location
        Path or URL of a ``.lindi.json``, ``.lindi.tar`` or ``.lindi.d``.
    options
        HTTP tuning for a remote file and remote sources.
    decode
        Whether to read and decode every inline and internal chunk. Defaults to True.
    allow_local_paths
        As for :func:`~hdmf_lindi.storage.open_container`.

    Raises
    ------
    LindiError
        If the file itself cannot be opened (missing, not LINDI, ...). Problems inside it are
        reported, not raised.
    """
    with open_container(location, "r", options=options, allow_local_paths=allow_local_paths) as container:
        report = VerifyReport(container.location, zarr_store=isinstance(container, ZarrDirContainer))
        zarr3 = adopt_dialect(container) == "zarr3"  # the model's keys and metadata, whatever the dialect
        identities = read_identities(container.refmap)
        sources: dict[str, SourceCheck] = {}
        internal: list[str] = []
        arrays: dict[str, ArrayMeta | None] = {}
        for key, value in _chunk_values(container):
            if isinstance(value, RangeRef) and not value.is_internal:
                check = sources.get(value.url) or sources.setdefault(value.url, SourceCheck(value.url))
                check.references += 1
                check.max_end = max(check.max_end, value.offset + value.length)
            elif decode and isinstance(value, RangeRef):
                internal.append(key)
            elif decode and isinstance(value, bytes):
                _decode_one(container, key, value, arrays, report)
        _table_sources(container, sources)
        for check in sources.values():
            check.recorded = identities.get(check.url)
            _check_source(container, check)
        report.sources = list(sources.values())
        if decode:
            _decode_internal(container, internal, arrays, report)
        if decode and isinstance(container, ZarrDirContainer):
            _decode_store(container, arrays, report)
        if isinstance(container, ZarrDirContainer):
            report.problems = [_store_names(container, p) for p in report.problems]
        elif zarr3:
            report.problems = [_v3_names(container, p) for p in report.problems]
        _cap(report)
        return report


def _chunk_values(container: Container) -> Iterator[tuple[str, bytes | RangeRef | None]]:
    """Every non-metadata key held one by one (chunk tables are handled apart) and its value."""
    refmap = container.refmap
    for key in refmap.iter_keys(chunk_tables=False):
        if key.rpartition("/")[2] in _METADATA:
            continue
        yield key, refmap.get(key)


def _table_sources(container: Container, sources: dict[str, SourceCheck]) -> None:
    refmap = container.refmap
    for key in list(refmap.iter_keys(chunk_tables=False)):
        if not key.endswith(".zarray"):
            continue
        table = refmap.chunk_table(key[:-len(".zarray")].rstrip("/"))
        if table is None or not table.count or table.url.startswith("./"):
            continue
        present = table.present()
        check = sources.get(table.url) or sources.setdefault(table.url, SourceCheck(table.url))
        check.references += int(present.size)
        ends = np.asarray(table.offsets[present], dtype=np.int64) + np.asarray(table.lengths[present], dtype=np.int64)
        check.max_end = max(check.max_end, int(ends.max()))


def _check_source(container: Container, check: SourceCheck) -> None:
    """Find the source's identity now (one stat, or one request) and compare."""
    url = check.url
    try:
        if is_url(url):
            fetcher = container.fetcher
            check.found = HttpSource(url, fetcher.session, fetcher.options).probe()
        else:
            path = container.fetcher.local_path(url)
            try:
                check.found = local_identity(os.stat(path))
            except FileNotFoundError:
                check.problems.append(f"missing: no file at {path}")
                return
    except (LindiError, OSError) as exc:
        status = f" (HTTP {exc.status})" if isinstance(exc, RemoteReadError) and exc.status else ""
        check.problems.append(f"unreachable{status}: {exc}")
        return
    found = check.found
    assert found is not None
    if check.recorded is not None:
        differ = check.recorded.differences(found)
        if differ:
            check.problems.append(
                f"changed since indexed ({', '.join(differ)}): recorded {check.recorded.describe()}; "
                f"found {found.describe()}"
            )
    if check.max_end > found.size:
        check.problems.append(
            f"references end past the end of the file: up to byte {check.max_end}, but it has {found.size} bytes"
        )


def _meta(container: Container, path: str, arrays: dict[str, ArrayMeta | None]) -> ArrayMeta | None:
    if path not in arrays:
        zarray = container.refmap.get_json(f"{path}/.zarray" if path else ".zarray")
        arrays[path] = None if zarray is None else ArrayMeta.from_dict(zarray, where=f"/{path} of {container.location}")
    return arrays[path]


def _decode_one(
    container: Container, key: str, data: Any, arrays: dict[str, ArrayMeta | None], report: VerifyReport
) -> None:
    path = key.rpartition("/")[0]
    try:
        meta = _meta(container, path, arrays)
        if meta is None:
            return  # not a chunk of an array (a stray key): nothing to decode it with
        report.chunks_decoded += 1
        where = f" {key!r} of {container.location}"
        nbytes = int(np.prod(meta.chunks)) * meta.dtype.itemsize
        raw = meta.pipeline.decode(bytes(data), 0 if meta.pipeline.is_object else nbytes, where=where)
        if meta.pipeline.is_object:
            decode_object_chunk(raw, where=where)
        else:
            size = raw.nbytes if isinstance(raw, np.ndarray) else len(raw)
            short_raw = size < nbytes and not meta.pipeline.has_codecs and meta.dtype.kind in "iuf"  # lindi's split datasets
            if size != nbytes and not short_raw:
                raise LindiError(f"chunk {key!r} decodes to {size} bytes; expected {nbytes}")
    except (LindiError, ValueError, TypeError) as exc:
        report.problems.append(f"chunk {key!r}: {exc}")


def _decode_internal(
    container: Container, keys: list[str], arrays: dict[str, ArrayMeta | None], report: VerifyReport
) -> None:
    batch: list[str] = []
    size = 0
    for key in [*keys, None]:
        if key is not None:
            value = container.refmap.get(key)
            assert isinstance(value, RangeRef)
            batch.append(key)
            size += value.length
            if size < BATCH_BYTES:
                continue
        if not batch:
            break
        try:
            blobs = container.read_many(batch)
        except (LindiError, OSError):  # find the bad ones one by one
            blobs = []
            for k in batch:
                try:
                    blobs.append(container.read(k))
                except (LindiError, OSError) as exc:
                    blobs.append(None)
                    report.problems.append(f"chunk {k!r}: {exc}")
        for k, data in zip(batch, blobs, strict=True):
            if data is not None:
                _decode_one(container, k, data, arrays, report)
        batch, size = [], 0


def _decode_store(container: ZarrDirContainer, arrays: dict[str, ArrayMeta | None], report: VerifyReport) -> None:
    """Read and decode the chunk files of a Zarr directory store (they are not keys of its map)."""
    for path in sorted(container.layouts):
        keys = container.unlisted_chunk_keys(path)
        for start in range(0, len(keys), _STORE_BATCH):
            batch = keys[start:start + _STORE_BATCH]
            try:
                blobs = container.read_many(batch)
            except (LindiError, OSError) as exc:
                report.problems.append(f"chunk {batch[0]!r}: {exc}")
                continue
            for key, data in zip(batch, blobs, strict=True):
                if data is not None:  # absent: the fill value
                    _decode_one(container, key, data, arrays, report)


def _store_names(container: ZarrDirContainer, problem: str) -> str:
    """``problem`` with its model chunk key spelled as the store's file (``x/c/0/1``)."""
    match = _PROBLEM_KEY.match(problem)
    key = None if match is None else container.store_key(match.group(1))
    if match is None or key is None:
        return problem
    return problem.replace(repr(match.group(1)), repr(key))


_PROBLEM_KEY = re.compile(r"^chunk '([^']*)'")


def _v3_names(container: Container, problem: str) -> str:
    """``problem`` with its model chunk key (``x/0.1``) spelled as in the Zarr v3 file (``x/c/0/1``)."""
    match = _PROBLEM_KEY.match(problem)
    if match is None:
        return problem
    path, _, index = match.group(1).rpartition("/")
    zattrs = container.refmap.get_json(f"{path}/.zattrs" if path else ".zattrs") or {}
    chunk = "c" if zattrs.get("_SCALAR") else "c/" + index.replace(".", "/")
    key = f"{path}/{chunk}" if path else chunk
    return problem.replace(repr(match.group(1)), repr(key))


def _cap(report: VerifyReport) -> None:
    if len(report.problems) > MAX_LISTED:
        more = len(report.problems) - MAX_LISTED
        report.problems = [*report.problems[:MAX_LISTED], f"... and {more} more chunk problems"]
