"""Pack a LINDI file: rewrite it without dead bytes, or convert it to another form.

:func:`pack` reads every key of a LINDI file and writes a new file through the ordinary
container API (``open_container(..., "w")``, ``store_chunk``, ``set_metadata``, ``flush``), so
the result has exactly the layout of a newly created file:

* **internal data is copied**: chunks held inline and ``./NAME`` blobs (inside a ``.lindi.tar``
  or ``.lindi.d``, or next to a ``.lindi.json``) are read and stored again, in key order, so the
  chunks of a dataset end up next to each other in chunk-index order;
* **external references stay references**: ``[url, offset, length]`` entries pointing at other
  files or URLs are kept, not downloaded. A relative local path is rewritten so that it still
  points at the same file from the new location;
* dead members of a ``.lindi.tar`` (old ``lindi.json`` and index slots, chunks that were
  rewritten) are left behind, because only what the reference map uses is copied.

The form of the output follows its name, as for every new file: ``.lindi.json``,
``.lindi.tar`` or ``.lindi.d`` (any other name is refused).

Packing a file onto itself is allowed and atomic: the new file is built beside the old one and
replaces it in one ``os.replace`` at the end (for a ``.lindi.d``, one directory swap). A failure
at any point leaves the old file as it was and creates nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from ..errors import FormatError, ModeError, UnsupportedError
from .containers import kind_from_suffix, open_container
from .identity import EXTRA_KEY, SOURCES_KEY, read_identities, record_identities
from .refmap import ChunkTable, RangeRef, ReferenceMap
from .sources import is_url
from .tar_container import TarContainer
from .zarr_dir_container import ZarrDirContainer

if TYPE_CHECKING:
    from .containers import Container

__all__ = ["PackStats", "ProgressFn", "pack"]

BATCH_BYTES = 64 << 20  # 64 MiB: internal chunks read per batch (bounds memory, lets reads merge)

_KEY_TOKEN_RE = re.compile(r"[/.]")
_V3_METADATA = "zarr.json"

ProgressFn: TypeAlias = Callable[[int, int], None]
RebaseAttrsFn: TypeAlias = Callable[[dict[str, Any], Callable[[str], str]], dict[str, Any]]
"""``rebase_attrs(zattrs, rebase)``: ``zattrs`` with the file names it holds passed through ``rebase``."""
"""``progress(chunks copied from blobs, their bytes)``, called after each batch of blob reads."""



@dataclass(frozen=True, slots=True)
class PackStats:
    """What :func:`pack` did."""

    source: str
    """The file that was read."""
    destination: str
    """The file that was written."""
    bytes_before: int | None
    """Size of the source on disk (all files of a ``.lindi.d``); None for a URL."""
    bytes_after: int
    """Size of the destination on disk."""
    blobs_copied: int
    """Chunks whose bytes were read from internal ``./NAME`` blobs and written again."""
    inline_copied: int
    """Chunks held inline in the source and written again."""
    bytes_copied: int
    """Chunk bytes read from internal blobs."""
    references_kept: int
    """External ``[url, offset, length]`` references carried over unchanged (or rebased)."""


def _disk_size(location: str) -> int:
    if not os.path.isdir(location):
        return os.path.getsize(location)
    total = 0
    for root, _dirs, files in os.walk(location):
        total += sum(os.path.getsize(os.path.join(root, name)) for name in files)
    return total


def _order(key: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key: path components in order, numbers numerically (``0.10`` after ``0.9``)."""
    return tuple(
        (0, int(token)) if token.isdigit() else (1, token) for token in _KEY_TOKEN_RE.split(key)
    )


def _is_metadata(key: str) -> bool:
    name = key.rpartition("/")[2]
    return name.startswith(".") or name == _V3_METADATA


def _rebase(url: str, src_dir: str | None, dst_dir: str) -> str:
    """Return ``url`` so that it names the same file from ``dst_dir`` (relative local paths only).

    Resolves like the fetcher: against the source's directory when the file exists there (or
    exists nowhere else), else against the working directory.
    """
    if is_url(url) or src_dir is None or url.startswith("file://") or os.path.isabs(url):
        return url
    candidate = os.path.join(src_dir, url)
    resolved = candidate if os.path.exists(candidate) or not os.path.exists(url) else url
    return os.path.relpath(os.path.abspath(resolved), dst_dir)


def _same_file(src: str, dst: str) -> bool:
    if is_url(src) or not os.path.exists(dst):
        return False
    return os.path.samefile(src, dst)


def _check_destination(src: Container, dst: str, *, overwrite: bool, in_place: bool) -> None:
    if in_place:
        if kind_from_suffix(dst) != src.kind:
            raise ModeError(
                f"Cannot pack {dst} in place: it is a .lindi.{src.kind} but its name asks for "
                f"a .lindi.{kind_from_suffix(dst)}. Write to a new name to convert it."
            )
    elif os.path.lexists(dst) and not overwrite:
        raise ModeError(
            f"{dst} already exists; refusing to overwrite it. Pass overwrite=True (--force on "
            "the command line) to replace it."
        )


@dataclass(slots=True)
class _Counts:
    blobs: int = 0
    inline: int = 0
    blob_bytes: int = 0
    kept: int = 0


def _copy_batch(
    src: Container, dst: Container, batch: list[str], counts: _Counts, progress: ProgressFn | None
) -> None:
    for key, data in zip(batch, src.read_many(batch), strict=True):
        assert data is not None  # every key of the batch holds a reference
        dst.store_chunk(key, bytes(data))
        counts.blob_bytes += len(data)
    counts.blobs += len(batch)
    if progress is not None:
        progress(counts.blobs, counts.blob_bytes)


def _external_tables(refmap: ReferenceMap) -> dict[str, ChunkTable]:
    """The chunk tables of ``refmap`` that point at another file or URL, by array path."""
    paths = (key[:-len(".zarray")].rstrip("/") for key in refmap if key.endswith(".zarray"))
    tables = {path: refmap.chunk_table(path) for path in paths}
    return {p: t for p, t in tables.items() if t is not None and not any(u.startswith("./") for u in t.urls)}


def _outside(tables: dict[str, ChunkTable], key: str) -> bool:
    if not tables:
        return True
    path, _, chunk = key.rpartition("/")
    table = tables.get(path)
    return table is None or table.slot(chunk) is None


def _copy(
    src: Container,
    dst: Container,
    dst_dir: str,
    progress: ProgressFn | None,
    rebase_attrs: RebaseAttrsFn | None = None,
    expand_tables: bool = False,
) -> _Counts:
    """Copy every key of ``src`` into ``dst``, internal chunks in batches of ``BATCH_BYTES``.

    Chunk tables of external references (an indexed HDF5 dataset's chunks) are carried over
    whole, as arrays; everything else key by key, in key order. ``rebase_attrs`` rewrites the
    file names a ``.zattrs`` object holds.
    """
    src_dir = None if is_url(src.location) else os.path.dirname(os.path.abspath(src.location))

    rebased: dict[str, str] = {}

    def rebase(url: str) -> str:
        out = rebased.get(url)
        if out is None:
            out = rebased[url] = _rebase(url, src_dir, dst_dir)
        return out
    counts = _Counts()
    if _V3_METADATA in src.refmap and ".zgroup" not in src.refmap:
        dst.refmap.delete(".zgroup")  # a new file's v2 root would make a Zarr v3 document ambiguous
    tables = _external_tables(src.refmap)
    for path, table in tables.items():
        carried = table.with_urls(rebase)
        carried.compact = carried.compact and not expand_tables
        dst.refmap.set_chunk_table(path, carried)
        counts.kept += table.count
    batch: list[str] = []
    batch_bytes = 0
    for key in sorted((k for k in src.refmap if _outside(tables, k)), key=_order):
        if _is_metadata(key):
            obj = src.refmap.get_json(key)
            if not isinstance(obj, dict):
                raise FormatError(
                    f"Metadata key {key!r} of {src.location} holds {type(obj).__name__}, not a "
                    "JSON object; the file is not valid LINDI and cannot be packed."
                )
            if rebase_attrs is not None and key.endswith(".zattrs"):
                obj = rebase_attrs(obj, rebase)
                dst.set_metadata(key, obj)
            elif isinstance(raw := src.refmap.raw(key), str):
                dst.refmap.set_raw(key, raw)  # JSON text stays text (a Zarr v3 node with bare NaN tokens)
            else:
                dst.set_metadata(key, obj)
            continue
        value = src.refmap.get(key)
        if isinstance(value, bytes):
            dst.store_chunk(key, value)
            counts.inline += 1
        elif isinstance(value, RangeRef) and value.is_internal:
            batch.append(key)
            batch_bytes += value.length
            if batch_bytes >= BATCH_BYTES:
                _copy_batch(src, dst, batch, counts, progress)
                batch, batch_bytes = [], 0
        elif isinstance(value, RangeRef):
            dst.refmap.set_range(key, rebase(value.url), value.offset, value.length)
            counts.kept += 1
    if batch:
        _copy_batch(src, dst, batch, counts, progress)
    identities = read_identities(src.refmap)  # recorded again under the rebased names
    extra = dst.refmap.extra.get(EXTRA_KEY)
    if isinstance(extra, dict) and SOURCES_KEY in extra:
        dst.refmap.extra[EXTRA_KEY] = {k: v for k, v in extra.items() if k != SOURCES_KEY}
    record_identities(dst.refmap, {rebased[u]: i for u, i in identities.items() if u in rebased})
    return counts


def pack(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    rebase_attrs: RebaseAttrsFn | None = None,
    expand_tables: bool = False,
    metadata_as_text: bool | None = None,
) -> PackStats:
    """Write ``source`` to ``destination`` as a newly created LINDI file, without dead bytes.

    Internal chunks (inline values and ``./NAME`` blobs) are copied in key order; external
    references are kept as references. The form of the output follows the name of
    ``destination`` (``.lindi.json``, ``.lindi.tar``, ``.lindi.d``), so this also converts
    between forms.

    Parameters
    ----------
    source
        A ``.lindi.json``, ``.lindi.tar`` or ``.lindi.d``: a local path or an http(s) URL.
    destination
        A local path. It may name ``source`` itself (same form only): the file is then packed
        in place, atomically.
    overwrite
        Replace an existing ``destination`` (other than ``source``). The replacement is atomic.
    progress
        Called as ``progress(chunks, nbytes)`` after each batch of chunks read from internal
        blobs (batches of about 64 MiB), with the running totals.
    rebase_attrs
        Rewrites the file names held in a ``.zattrs`` object, given a function that rebases
        one. This layer does not know LINDI's annotations: :func:`hdmf_lindi.pack` passes the
        one that rebases external links and external array links, and is what to call.
    expand_tables
        Write compact chunk tables as one JSON reference per chunk (for tools that need them;
        the default carries them as tables).
    metadata_as_text
        Write metadata values as JSON text (kerchunk's spelling, for clients such as zarrita)
        if True, as embedded JSON objects (lindi's) if False; None keeps the source's spelling.

    Returns
    -------
    PackStats
        Sizes before and after, and what was copied.

    Raises
    ------
    ModeError
        If ``destination`` exists and ``overwrite`` is False, or if an in-place pack would
        change the form of the file.
    FormatError
        If ``source`` is not a readable LINDI file (truncated or corrupt tar, bad JSON ...).
    ChunkRefError
        If an internal reference points at a missing blob or past its end.
    RemoteReadError
        If reading a remote source fails.
    UnsupportedError
        If ``source`` is a Zarr directory store (convert it instead).

    Notes
    -----
    Nothing is created at ``destination`` unless the whole copy succeeds. Do not pack a file
    that another process has open for writing: its later changes would be lost.

    Examples
    --------
    >>> stats = pack("session.lindi.tar", "session.lindi.tar")  # doctest: +SKIP
    >>> stats.bytes_before, stats.bytes_after  # doctest: +SKIP
    (48234496, 4218880)
    """
    src_location = os.fspath(source)
    dst_location = os.fspath(destination)
    if is_url(dst_location):
        raise ModeError(f"Cannot pack into {dst_location}: the destination must be a local path.")
    with open_container(src_location, "r") as src:
        if isinstance(src, ZarrDirContainer):  # its chunks are files, not keys: pack would drop them
            raise UnsupportedError(
                f"Cannot pack {src_location}: it is a Zarr directory store, not a LINDI file. Convert "
                "it instead (hdmf-lindi convert / hdmf_lindi.convert), which copies its chunks."
            )
        bytes_before = None if is_url(src_location) else _disk_size(src_location)
        in_place = _same_file(src_location, dst_location)
        if in_place:
            dst_location = os.path.realpath(dst_location)
        _check_destination(src, dst_location, overwrite=overwrite, in_place=in_place)
        dst = open_container(dst_location, "w")
        if isinstance(dst, TarContainer):
            dst.reserve_spare = False  # the smallest file: no room reserved for future updates
        try:
            dst.refmap.generation_metadata = src.refmap.generation_metadata
            dst.refmap.extra = dict(src.refmap.extra)
            dst.refmap.metadata_as_text = (
                src.refmap.metadata_as_text if metadata_as_text is None else metadata_as_text
            )
            dst_dir = os.path.dirname(os.path.abspath(dst_location))
            counts = _copy(src, dst, dst_dir, progress, rebase_attrs, expand_tables)
            dst.flush()
        except BaseException:
            dst.read_only = True  # release without publishing anything, as File.__exit__ does
            dst.close()
            raise
        dst.close()
    return PackStats(
        source=src_location,
        destination=os.fspath(destination),
        bytes_before=bytes_before,
        bytes_after=_disk_size(dst_location),
        blobs_copied=counts.blobs,
        inline_copied=counts.inline,
        bytes_copied=counts.blob_bytes,
        references_kept=counts.kept,
    )


