"""ReferenceMap: the kerchunk-style ``refs`` document at the heart of every LINDI file.

A reference map maps Zarr v2 store keys to their content. Four kinds of value are accepted
(``lindi-format.md`` §2.2): plain text (the UTF-8 bytes of the string), ``base64:`` text, an
embedded JSON object (its JSON serialisation), and a ``[url, offset, length]`` byte range.
Templates (``{{name}}`` in a url) are expanded on read and introduced on write for urls that
are used often, as lindi does.

Large chunk tables (an HDF5 dataset can have 10^6 chunks) can be held as a :class:`ChunkTable`:
numpy arrays of offsets and lengths over the array's chunk grid instead of one Python list per
chunk. Their entries behave like any other ``[url, offset, length]`` value (``get``, ``raw``,
``in``, iteration, ``delete``, ``set_*``); they are only spelled out as lists by ``to_dict``,
and ``to_json`` writes them straight from the arrays.

No I/O: parsing and serialising work on bytes and dicts.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypeAlias

import numpy as np

from ..errors import ReferenceMapError
from .chunk_table import ChunkTable
from .compact_tables import (
    EXTRA_KEY,
    TABLES_KEY,
    RangeReader,
    ShardSink,
    encode_entry,
    fallback_link,
    parse_entries,
    strip_fallback_link,
)

__all__ = ["ChunkTable", "RangeRef", "RefValue", "ReferenceMap", "TableRanges", "encode_inline", "is_metadata_key"]  # ChunkTable: re-exported

RefValue: TypeAlias = str | dict[str, Any] | list[Any]
"""A raw value of the ``refs`` object, as it appears in the JSON document."""

_TEMPLATE_RE = re.compile(r"\{\{([^{}]*)\}\}")
_BASE64_PREFIX = "base64:"
_TEMPLATE_MIN_USES = 5  # lindi's threshold: a url used this often becomes a template
_KNOWN_TOP_KEYS = frozenset({"refs", "version", "templates", "generationMetadata"})
_INDENT_MAX_REFS = 5000  # above this many refs the document is written compactly
_TABLES_SENTINEL = "\x00chunk tables"  # placeholder key of to_json's fast path
_MAX_STOP = 2**63 - 1  # offset + length of a reference must fit a signed 64-bit file offset
_METADATA_NAMES = (".zattrs", ".zgroup", ".zarray", "zarr.json")


def is_metadata_key(key: str) -> bool:
    """Whether ``key`` names a Zarr metadata document (``.zattrs``, ``.zgroup``, ``.zarray``, ``zarr.json``)."""
    return key.endswith(_METADATA_NAMES) and key.rpartition("/")[2] in _METADATA_NAMES


def _as_object(value: Any) -> Any:
    """A metadata value spelled as JSON text, parsed when it is a JSON object; else ``value``."""
    if isinstance(value, str) and not value.startswith(_BASE64_PREFIX):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        return parsed if isinstance(parsed, dict) else value
    return value


def _has_nonfinite(obj: Any) -> bool:
    """Whether a parsed JSON value holds a NaN or infinite float (which strict JSON cannot spell)."""
    if isinstance(obj, float):
        return obj != obj or obj in (float("inf"), float("-inf"))
    if isinstance(obj, dict):
        return any(_has_nonfinite(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_nonfinite(v) for v in obj)
    return False


def _spells_metadata_as_text(refs: Mapping[str, Any]) -> bool:
    """Whether a document's metadata values are all JSON text (kerchunk's spelling), with at least one."""
    seen = False
    for key, value in refs.items():
        if is_metadata_key(key):
            if not isinstance(value, str):
                return False
            seen = True
    return seen


class RangeRef(NamedTuple):
    """A byte range ``[offset, offset + length)`` of the resource named by ``url``.

    A named tuple rather than a frozen dataclass: one is built per chunk read, and tuples are
    several times cheaper to construct.
    """

    url: str
    """The template-expanded url (an http(s) URL, a local path, or ``./NAME`` in the container)."""
    offset: int
    """First byte (inclusive)."""
    length: int
    """Number of bytes."""

    @property
    def is_internal(self) -> bool:
        """Whether the url names a blob inside the same container (``./NAME``)."""
        return self.url.startswith("./")


class TableRanges(NamedTuple):
    """The references of some chunks of a table-backed array (see ``ReferenceMap.table_ranges``).

    ``offsets`` (-1 where the table has no reference) and ``lengths`` are int64 arrays, one
    entry per chunk asked for; ``url_index`` (uint16, or None when every chunk uses
    ``urls[0]``) indexes ``urls``.
    """

    urls: tuple[str, ...]
    offsets: Any
    lengths: Any
    url_index: Any


def encode_inline(data: bytes) -> str:
    """Encode raw bytes as an inline ``refs`` string, following lindi's writer rule.

    ASCII content that does not start with ``base64:`` is stored as text (JSON escaping handles
    control bytes); anything else is ``base64:`` encoded.
    """
    if data.isascii() and not data.startswith(b"base64:"):
        return data.decode("ascii")
    return _BASE64_PREFIX + base64.b64encode(data).decode("ascii")


def _table_keys(path: str, table: ChunkTable) -> list[str]:
    """Full store keys of a table's chunks that have a reference, in grid order."""
    prefix = path + "/" if path else ""
    indices = table.present()
    if len(table.grid) == 1:
        return [f"{prefix}{i}" for i in indices.tolist()]
    if len(table.grid) == 2:
        rows, cols = (c.tolist() for c in np.unravel_index(indices, table.grid))
        return [f"{prefix}{i}.{j}" for i, j in zip(rows, cols, strict=True)]
    return [prefix + chunk for chunk in table.chunk_keys(indices)]


def _where(source: str | None) -> str:
    return f" in {source}" if source else ""


class ReferenceMap:
    """A validated, mutable reference map.

    Parameters
    ----------
    refs
        Store key -> raw value. Values are validated.
    templates
        Template name -> url.
    generation_metadata
        Free-form provenance, written as ``generationMetadata``.
    extra
        Unknown top-level keys, preserved on write.
    source
        Where the document came from, used in error messages only.
    tables
        Array path -> :class:`~hdmf_lindi.storage.refmap.ChunkTable` of its chunk references. An entry of ``refs`` with
        the same key as a table entry wins.
    metadata_as_text
        Write the values of metadata keys (``.zattrs``, ``.zgroup``, ``.zarray``) as JSON text,
        kerchunk's spelling that JavaScript clients such as zarrita need, instead of embedded
        JSON objects (lindi's spelling, the default). Both are read either way.

    Raises
    ------
    ReferenceMapError
        If a value has a shape the format does not allow, or a url names an unknown template.
    """

    def __init__(
        self,
        refs: Mapping[str, RefValue] | None = None,
        *,
        templates: Mapping[str, str] | None = None,
        generation_metadata: Any = None,
        extra: Mapping[str, Any] | None = None,
        source: str | None = None,
        tables: Mapping[str, ChunkTable] | None = None,
        metadata_as_text: bool = False,
    ) -> None:
        self.source = source
        self.metadata_as_text = metadata_as_text
        """Whether metadata values are written as JSON text rather than embedded objects."""
        self.templates: dict[str, str] = dict(templates or {})
        for name, url in self.templates.items():
            if not isinstance(url, str):
                raise ReferenceMapError(
                    f"Template {name!r}{_where(source)} must map to a string url, got "
                    f"{type(url).__name__}. Fix the 'templates' object of the document."
                )
        self.generation_metadata = generation_metadata
        self.extra: dict[str, Any] = dict(extra or {})
        self.shard_reader: RangeReader | None = None
        """Reads the blob-stored shards of lazy chunk tables (set by the container)."""
        self.home: str | None = None
        """Location of the container whose blobs the tables' shards are read from."""
        self._shadowed: list[str] = []
        self._lazy: set[str] = set()
        """Paths of the tables that may still have shards to load."""
        self._known_template_urls: set[str] = set()
        """Templated urls already checked to expand (the many chunk references of one file)."""
        self._refs: dict[str, RefValue] = {}
        for key, value in (refs or {}).items():
            self._check_value(key, value)
            self._refs[key] = value
        self._tables: dict[str, ChunkTable] = {}
        for path, table in (tables or {}).items():
            if not isinstance(table, ChunkTable):
                raise ReferenceMapError(f"Chunk table of {path!r}{_where(source)} must be a ChunkTable.")
            self._tables[path] = table
        self._lazy = {path for path, table in self._tables.items() if table.pending}
        if self._tables:
            for key in self._refs:
                self._drop_table_entry(key)
        self.dirty = False
        """Whether the map changed since it was loaded or last marked clean."""
        self.translate: Callable[[ReferenceMap], ReferenceMap] | None = None
        """The writer of another dialect, or None; :meth:`to_json` serialises ``translate(self)``
        instead of the model (set for files written as Zarr v3; the model stays LINDI v2)."""

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_json(cls, data: bytes | str, *, source: str | None = None) -> ReferenceMap:
        """Parse a LINDI JSON document (trailing spaces and NULs of tar slots allowed).

        Raises
        ------
        ReferenceMapError
            If the text is not JSON, has no ``refs`` object, or any value is malformed.
        """
        if isinstance(data, bytes):
            data = data.rstrip(b" \x00\n\r\t")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ReferenceMapError(
                    f"LINDI document{_where(source)} is not UTF-8 text (byte {exc.start}). "
                    "Is this really a .lindi.json file?"
                ) from exc
        else:
            text = data
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReferenceMapError(
                f"LINDI document{_where(source)} is not valid JSON: {exc.msg} at line "
                f"{exc.lineno} column {exc.colno}. The file may be truncated or not a LINDI file."
            ) from exc
        return cls.from_dict(doc, source=source)

    @classmethod
    def from_dict(cls, doc: Any, *, source: str | None = None) -> ReferenceMap:
        """Build a map from a parsed JSON document.

        Raises
        ------
        ReferenceMapError
            If the document is not an object with a ``refs`` object, or a value is malformed.
        """
        if not isinstance(doc, dict):
            raise ReferenceMapError(
                f"LINDI document{_where(source)} must be a JSON object, got "
                f"{type(doc).__name__}."
            )
        refs = doc.get("refs")
        if not isinstance(refs, dict):
            raise ReferenceMapError(
                f"LINDI document{_where(source)} has no 'refs' object (got "
                f"{type(refs).__name__}). Version-0 kerchunk documents are not supported; "
                "wrap the mapping as {\"version\": 1, \"refs\": {...}}."
            )
        templates = doc.get("templates")
        templates = {} if templates is None else templates
        if not isinstance(templates, dict):
            raise ReferenceMapError(
                f"'templates'{_where(source)} must be an object, got {type(templates).__name__}."
            )
        extra = {k: v for k, v in doc.items() if k not in _KNOWN_TOP_KEYS}
        as_text = _spells_metadata_as_text(refs)
        ours = extra.get(EXTRA_KEY)
        entries = ours.get(TABLES_KEY) if isinstance(ours, dict) else None
        if entries is not None and isinstance(ours, dict):
            extra[EXTRA_KEY] = {k: v for k, v in ours.items() if k != TABLES_KEY}
            if not extra[EXTRA_KEY]:
                del extra[EXTRA_KEY]
            if isinstance(entries, dict):
                refs = dict(refs)
                for path, entry in entries.items():
                    key = path + "/.zattrs" if path else ".zattrs"
                    if key in refs and isinstance(entry, dict):
                        refs[key] = strip_fallback_link(_as_object(refs[key]), entry)
        refmap = cls(
            refs,
            templates=templates,
            generation_metadata=doc.get("generationMetadata"),
            extra=extra,
            source=source,
            metadata_as_text=as_text,
        )
        if entries is not None:
            tables = parse_entries(entries, refmap._read_ranges, source=source)
            refmap._tables.update(tables)
            refmap._lazy = {path for path, table in tables.items() if table.pending}
            # a refs entry wins over its table's (a chunk appended later): dropped from the
            # table when first needed, not now (that would load shards at open)
            for key in refmap._refs:
                path, _, chunk = key.rpartition("/")
                table = tables.get(path)
                if table is not None and table.index(chunk) is not None:
                    refmap._shadowed.append(key)
        return refmap

    def _resolve_shadowed(self, path: str | None = None) -> None:
        """Drop the table entries of chunk keys that ``refs`` also holds (see from_dict).

        With ``path``, only those of the array at ``path``.
        """
        if path is None:
            shadowed, self._shadowed = self._shadowed, []
        else:
            shadowed = [k for k in self._shadowed if k.rpartition("/")[0] == path]
            if not shadowed:
                return
            self._shadowed = [k for k in self._shadowed if k.rpartition("/")[0] != path]
        dirty = self.dirty
        for key in shadowed:
            self._drop_table_entry(key)
        self.dirty = dirty

    def _check_value(self, key: str, value: Any) -> None:
        kind = type(value)
        if type(key) is str and key[:1] != "/":  # hot path: well-formed values
            if kind is str or kind is dict:
                return
            if (
                kind is list
                and len(value) == 3
                and type(value[0]) is str
                and type(value[1]) is int
                and type(value[2]) is int
                and value[1] >= 0
                and value[2] >= 0
                and value[1] + value[2] <= _MAX_STOP
                and ("{{" not in value[0] or value[0] in self._known_template_urls)
            ):
                return
        if not isinstance(key, str) or key.startswith("/"):
            raise ReferenceMapError(
                f"Store key {key!r}{_where(self.source)} is invalid: keys are strings without "
                "a leading '/'."
            )
        if isinstance(value, str | dict):
            return
        if isinstance(value, list):
            if (
                len(value) == 3
                and isinstance(value[0], str)
                and type(value[1]) is int
                and type(value[2]) is int
            ):
                if value[1] < 0 or value[2] < 0:
                    raise ReferenceMapError(
                        f"Reference {key!r}{_where(self.source)} has a negative offset or "
                        f"length: {value!r}."
                    )
                if value[1] + value[2] > _MAX_STOP:
                    raise ReferenceMapError(
                        f"Reference {key!r}{_where(self.source)} ends past byte 2**63, beyond "
                        f"any file: {value!r}."
                    )
                if "{{" in value[0]:
                    self._expand(value[0], key)
                    self._known_template_urls.add(value[0])
                return
            raise ReferenceMapError(
                f"Reference {key!r}{_where(self.source)} must be [url, offset, length] with "
                f"integer offset and length; got {json.dumps(value)[:200]}."
            )
        raise ReferenceMapError(
            f"Value of {key!r}{_where(self.source)} must be a string, an object or "
            f"[url, offset, length]; got {type(value).__name__} ({json.dumps(value)[:80]})."
        )

    def _expand(self, url: str, key: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            try:
                return self.templates[name]
            except KeyError:
                raise ReferenceMapError(
                    f"Reference {key!r}{_where(self.source)} uses template {{{{{name}}}}}, "
                    f"which is not defined (known templates: {sorted(self.templates)})."
                ) from None

        return _TEMPLATE_RE.sub(substitute, url)

    # ------------------------------------------------------------------ access
    def _table_entry(self, key: str) -> tuple[str, int, int] | None:
        if not self._tables:
            return None
        path, _, chunk = key.rpartition("/")
        table = self._tables.get(path)
        if table is None:
            return None
        index = table.index(chunk)
        return None if index is None else table.entry(index)

    def _drop_table_entry(self, key: str) -> bool:
        path, _, chunk = key.rpartition("/")
        table = self._tables.get(path)
        if table is None:
            return False
        index = table.index(chunk)
        return index is not None and table.drop(index)

    def prefetch(self, keys: Iterable[str]) -> None:
        """Load, in one call per table, the shards of lazy chunk tables that hold ``keys``.

        Without it each key's shard is loaded on its first lookup (one read per shard).
        """
        if not self._lazy:
            return
        lazy = {path: t for path in self._lazy if (t := self._tables.get(path)) is not None and t.pending}
        self._lazy = set(lazy)
        if not lazy:
            return
        wanted: dict[str, list[str]] = {}
        for key in keys:
            path, _, chunk = key.rpartition("/")
            if path in lazy:
                wanted.setdefault(path, []).append(chunk)
        for path, chunks in wanted.items():
            lazy[path].ensure_keys(chunks)

    def bind_reader(self, reader: RangeReader | None, home: str | None) -> None:
        """Let lazy chunk tables read shards stored as blobs of the container at ``home``."""
        self.shard_reader = reader
        self.home = home

    def _read_ranges(self, ranges: Sequence[tuple[str, int, int]]) -> Sequence[bytes]:
        if self.shard_reader is None:
            raise ReferenceMapError(
                f"The chunk tables{_where(self.source)} live in blobs of their container, but this "
                "map was not opened from one: open the file with hdmf_lindi instead."
            )
        return self.shard_reader(ranges)

    def __contains__(self, key: object) -> bool:
        return key in self._refs or (isinstance(key, str) and self._table_entry(key) is not None)

    def __len__(self) -> int:
        if self._shadowed:
            self._resolve_shadowed()
        return len(self._refs) + sum(t.count for t in self._tables.values())

    def __iter__(self) -> Iterator[str]:
        """Iterate over the keys: inline and list entries in insertion order, then each table's
        chunk keys in grid order."""
        return self.iter_keys()

    def iter_keys(self, *, chunk_tables: bool = True) -> Iterator[str]:
        """Iterate over the keys, optionally leaving out those held in chunk tables.

        Tables hold chunk keys only, so ``chunk_tables=False`` still yields every ``.zgroup``,
        ``.zarray`` and ``.zattrs`` key: enough to find all groups and arrays without spelling
        out 10^6 chunk keys.
        """
        yield from self._refs
        if chunk_tables:
            if self._shadowed:
                self._resolve_shadowed()
            for path, table in list(self._tables.items()):
                yield from _table_keys(path, table)

    def raw_items(self) -> Iterator[tuple[str, RefValue]]:
        """Iterate over ``(key, raw value)`` of the entries held one by one, in insertion order.

        Chunk-table entries are left out (see :meth:`chunk_table`); values are as :meth:`raw`
        returns them (templates not expanded). One pass over a large map without a lookup per key.
        """
        return iter(self._refs.items())

    def keys(self) -> list[str]:
        """Return all store keys (in the order of iteration)."""
        return list(self)

    def raw(self, key: str) -> RefValue:
        """Return the raw value stored for ``key`` (a new list for a chunk-table entry).

        Raises
        ------
        KeyError
            If the key is absent.
        """
        value = self._refs.get(key)
        if value is not None:
            return value
        found = self._table_entry(key)
        if found is None:
            raise KeyError(key)
        return list(found)

    def chunk_table(self, path: str) -> ChunkTable | None:
        """Return the chunk table of the array at ``path``, if its chunks are held as one."""
        return self._tables.get(path)

    def table_blobs(self) -> list[RangeRef]:
        """Where the shard bytes of the compact tables read from a document live, when they
        live in a blob of the container (``data`` = ``[url, offset, length]``); inline tables
        and tables made in memory are left out."""
        out = []
        for table in self._tables.values():
            data = None if table.stored is None else table.stored["entry"].get("data")
            if isinstance(data, list) and len(data) == 3 and isinstance(data[0], str):
                out.append(RangeRef(data[0], int(data[1]), int(data[2])))
        return out

    def table_ranges(self, path: str, indices: np.ndarray[Any, np.dtype[np.intp]]) -> TableRanges | None:
        """The table's references of flat grid ``indices`` of the array at ``path``.

        None if the array has no table. A negative index (a chunk outside the table's grid)
        gets offset -1. Only the covering shards are loaded, in one call. A chunk whose key
        ``refs`` also holds (written after the table) has offset -1 here: the caller looks up
        the chunks without a table reference with :meth:`held`, as :meth:`get` would.
        """
        table = self._tables.get(path)
        if table is None:
            return None
        if self._shadowed:
            self._resolve_shadowed(path)
        offsets, lengths, url_index = table.gather(indices)
        return TableRanges(table.urls, offsets, lengths, url_index)

    def held(self, keys: Iterable[str]) -> dict[int, bytes | RangeRef]:
        """Position -> value of those of ``keys`` stored one by one (not in a chunk table)."""
        if not self._refs:
            return {}
        found: dict[int, bytes | RangeRef] = {}
        for i, key in enumerate(keys):
            if key in self._refs:
                value = self.get(key)
                if value is not None:
                    found[i] = value
        return found

    def set_chunk_table(self, path: str, table: ChunkTable) -> None:
        """Hold every chunk reference of the array at ``path`` as ``table``.

        Replaces the array's previous table and any chunk entries of its grid stored one by
        one (this scans the map's keys once).
        """
        prefix = path + "/" if path else ""
        for key in [k for k in self._refs if k.startswith(prefix) and table.index(k[len(prefix):]) is not None]:
            del self._refs[key]
        self._tables[path] = table
        if table.pending:
            self._lazy.add(path)
        self.dirty = True

    def get(self, key: str) -> bytes | RangeRef | None:
        """Return the inline bytes or the byte range stored for ``key``, or None if absent.

        Raises
        ------
        ReferenceMapError
            If a ``base64:`` value does not decode.
        """
        value = self._refs.get(key)
        if value is None:
            found = self._table_entry(key)
            return None if found is None else RangeRef(*found)
        if isinstance(value, str):
            if value.startswith(_BASE64_PREFIX):
                try:
                    return base64.b64decode(value[len(_BASE64_PREFIX):], validate=True)
                except binascii.Error as exc:
                    raise ReferenceMapError(
                        f"Value of {key!r}{_where(self.source)} is not valid base64: {exc}."
                    ) from exc
            return value.encode("utf-8")
        if isinstance(value, dict):
            return json.dumps(value).encode("utf-8")
        url = value[0]
        if "{{" in url:
            url = self._expand(url, key)
        return RangeRef(url, value[1], value[2])

    def get_json(self, key: str) -> Any:
        """Return the parsed JSON content of a metadata key, or None if absent.

        Raises
        ------
        ReferenceMapError
            If the content is not JSON.
        """
        value = self._refs.get(key)
        if value is None and self._table_entry(key) is None:
            return None
        if isinstance(value, dict):
            return value
        content = self.get(key)
        if isinstance(content, RangeRef):
            raise ReferenceMapError(
                f"Metadata key {key!r}{_where(self.source)} is a byte-range reference; LINDI "
                "metadata must be inline."
            )
        try:
            return json.loads(content or b"")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ReferenceMapError(
                f"Metadata key {key!r}{_where(self.source)} does not hold valid JSON: {exc}."
            ) from exc

    # ------------------------------------------------------------------ mutation
    def set_bytes(self, key: str, data: bytes) -> None:
        """Store raw bytes inline (text or ``base64:``)."""
        if self._tables:
            self._drop_table_entry(key)
        self._refs[key] = encode_inline(data)
        self.dirty = True

    def set_json(self, key: str, obj: dict[str, Any]) -> None:
        """Store a metadata object inline as an embedded JSON object."""
        if self._tables:
            self._drop_table_entry(key)
        self._refs[key] = obj
        self.dirty = True

    def set_range(self, key: str, url: str, offset: int, length: int) -> None:
        """Store a ``[url, offset, length]`` reference."""
        if self._tables:
            self._drop_table_entry(key)
        self._refs[key] = [url, int(offset), int(length)]
        self.dirty = True

    def set_raw(self, key: str, value: RefValue) -> None:
        """Store a raw value after validating it.

        Raises
        ------
        ReferenceMapError
            If the value is malformed.
        """
        self._check_value(key, value)
        if self._tables:
            self._drop_table_entry(key)
        self._refs[key] = value
        self.dirty = True

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        if self._refs.pop(key, None) is not None or self._drop_table_entry(key):
            self.dirty = True

    # ------------------------------------------------------------------ serialising
    def _split_tables(self, expand: bool) -> tuple[dict[str, ChunkTable], dict[str, ChunkTable]]:
        """(tables written as JSON refs, tables written compactly)."""
        if self._shadowed:
            self._resolve_shadowed()
        flat = {p: t for p, t in self._tables.items() if expand or not t.compact}
        compact = {p: t for p, t in self._tables.items() if p not in flat}
        return flat, compact

    def _compact_entries(
        self, refs: dict[str, RefValue], compact: dict[str, ChunkTable], sink: ShardSink | None, home: str | None
    ) -> dict[str, Any]:
        """Entries of the compact tables; adds lindi's fallback links to their ``.zattrs`` in ``refs``."""
        entries: dict[str, Any] = {}
        reuse = home is not None and home == self.home
        for path, table in compact.items():
            entries[path] = encode_entry(path, table, sink, reuse_blobs=reuse)
            link = fallback_link(table)
            if link is not None:
                key = path + "/.zattrs" if path else ".zattrs"
                zattrs = self.get_json(key) if key in self._refs else {}
                refs[key] = {**(zattrs or {}), "_EXTERNAL_ARRAY_LINK": link}
        return entries

    def _spell_metadata(self, refs: dict[str, RefValue]) -> None:
        """Spell every metadata value of ``refs`` as JSON text or as an object (``metadata_as_text``)."""
        for key, value in refs.items():
            if not is_metadata_key(key):
                continue
            if self.metadata_as_text:
                if isinstance(value, dict):
                    refs[key] = json.dumps(value, sort_keys=True, allow_nan=False)
            elif isinstance(value, str):
                try:
                    obj = self.get_json(key)
                except ReferenceMapError:
                    continue  # not JSON: kept as it was, readers report it
                if isinstance(obj, dict) and not _has_nonfinite(obj):  # bare NaN tokens stay text
                    refs[key] = obj

    def to_dict(
        self,
        *,
        use_templates: bool = True,
        expand_tables: bool = False,
        shard_sink: ShardSink | None = None,
        home: str | None = None,
    ) -> dict[str, Any]:
        """Return the JSON document, with ``"version": 1`` and templates for frequent urls.

        Chunk tables are spelled out as ``[url, offset, length]`` lists, except compact ones
        (unless ``expand_tables``), which go under ``"hdmf_lindi": {"chunkTables": ...}``
        with their shard bytes stored through ``shard_sink`` (a container's blob writer; inline
        base64 without one). ``home`` is the location being written (blobs of the same
        container are then reused).
        """
        refs: dict[str, RefValue] = dict(self._refs)
        flat, compact = self._split_tables(expand_tables)
        entries = self._compact_entries(refs, compact, shard_sink, home)
        self._spell_metadata(refs)
        for path, table in flat.items():
            prefix = path + "/" if path else ""
            indices = table.present()
            for chunk, url, offset, length in zip(
                table.chunk_keys(indices), table.urls_of(indices), table.offsets[indices].tolist(),
                table.lengths[indices].tolist(), strict=True,
            ):
                refs[prefix + chunk] = [url, offset, length]
        templates = dict(self.templates)
        if use_templates:
            self._introduce_templates(refs, templates)
        return self._document(refs, templates, entries)

    def _document(
        self, refs: dict[str, Any], templates: dict[str, str], tables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        doc: dict[str, Any] = dict(self.extra)
        if tables:
            ours = doc.get(EXTRA_KEY)
            doc[EXTRA_KEY] = {**(ours if isinstance(ours, dict) else {}), TABLES_KEY: tables}
        doc["version"] = 1
        if templates:
            doc["templates"] = templates
        if self.generation_metadata is not None:
            doc["generationMetadata"] = self.generation_metadata
        doc["refs"] = refs
        return doc

    def to_json(
        self, *, expand_tables: bool = False, shard_sink: ShardSink | None = None, home: str | None = None
    ) -> bytes:
        """Serialise to ASCII JSON with sorted keys (indented unless the map is large).

        In a large map, the entries of chunk tables are written straight from their arrays,
        in grid order, at the start of ``refs`` (the other keys stay sorted). Compact tables:
        see :meth:`to_dict`.
        """
        if self.translate is not None:  # another dialect: only refs, no hdmf_lindi chunk tables
            return self.translate(self).to_json(expand_tables=True, home=home)
        flat, compact = self._split_tables(expand_tables)
        n_refs = len(self._refs) + sum(t.count for t in flat.values())
        if not any(t.count for t in flat.values()) or n_refs <= _INDENT_MAX_REFS:
            indent = 2 if n_refs <= _INDENT_MAX_REFS else None
            separators = (",", ": ") if indent else (",", ":")
            doc = self.to_dict(expand_tables=expand_tables, shard_sink=shard_sink, home=home)
            text = json.dumps(doc, indent=indent, sort_keys=True, separators=separators, allow_nan=False)
            return text.encode("ascii")
        refs: dict[str, Any] = dict(self._refs)
        entries = self._compact_entries(refs, compact, shard_sink, home)
        self._spell_metadata(refs)
        templates = dict(self.templates)
        table_counts = Counter[str]()
        for table in flat.values():
            if table.url_index is None:
                table_counts[table.url] += table.count
            else:
                used = np.bincount(table.url_index[table.offsets >= 0], minlength=len(table.urls))
                for url, n in zip(table.urls, used.tolist(), strict=True):
                    table_counts[url] += n
        named = self._introduce_templates(refs, templates, table_counts)
        refs[_TABLES_SENTINEL] = 0  # sorts first in refs; replaced by the tables' entries
        text = json.dumps(
            self._document(refs, templates, entries), sort_keys=True, separators=(",", ":"), allow_nan=False
        )
        marker = '"refs":{' + json.dumps(_TABLES_SENTINEL) + ":0"
        parts = [self._table_json(path, table, named) for path, table in flat.items() if table.count]
        head, found, tail = text.partition(marker)
        assert found, "the sentinel key sorts first in refs"
        return (head + '"refs":{' + ",".join(p for p in parts if p) + tail).encode("ascii")

    @staticmethod
    def _table_json(path: str, table: ChunkTable, named: dict[str, str]) -> str:
        prefix = json.dumps(path + "/" if path else "")[1:-1]
        indices = table.present()
        offsets, lengths = table.offsets[indices].tolist(), table.lengths[indices].tolist()
        if table.url_index is not None:  # several urls: one per entry
            urls = [json.dumps("{{" + named[u] + "}}" if u in named else u) for u in table.urls]
            url_of = [urls[i] for i in table.url_index[indices].tolist()]
            keys = table.chunk_keys(indices)
            return ",".join(f'"{prefix}{k}":[{u},{o},{n}]' for k, u, o, n in zip(keys, url_of, offsets, lengths, strict=True))
        name = named.get(table.url)
        url = json.dumps("{{" + name + "}}" if name is not None else table.url)
        if len(table.grid) == 2:  # the key spelled inside the f-string: no intermediate strings
            rows, cols = (c.tolist() for c in np.unravel_index(indices, table.grid))
            entries = [
                f'"{prefix}{i}.{j}":[{url},{o},{n}]' for i, j, o, n in zip(rows, cols, offsets, lengths, strict=True)
            ]
        else:
            keys = indices.tolist() if len(table.grid) == 1 else table.chunk_keys(indices)
            entries = [f'"{prefix}{k}":[{url},{o},{n}]' for k, o, n in zip(keys, offsets, lengths, strict=True)]
        return ",".join(entries)

    @staticmethod
    def _introduce_templates(
        refs: dict[str, RefValue], templates: dict[str, str], table_counts: Counter[str] | None = None
    ) -> dict[str, str]:
        """Name every url used at least ``_TEMPLATE_MIN_USES`` times and use the names in ``refs``.

        Returns url -> template name for those urls (``table_counts`` adds uses outside ``refs``).
        """
        counts = Counter(
            v[0] for v in refs.values() if type(v) is list and "{{" not in v[0]
        )
        if table_counts:
            counts.update(table_counts)
        frequent = sorted(u for u, n in counts.items() if n >= _TEMPLATE_MIN_USES)
        if not frequent:
            return {}
        by_url = {url: name for name, url in templates.items()}
        next_index = 1
        for url in frequent:
            if url not in by_url:
                while f"u{next_index}" in templates:
                    next_index += 1
                templates[f"u{next_index}"] = url
                by_url[url] = f"u{next_index}"
        named = {url: by_url[url] for url in frequent}
        for key, value in refs.items():
            if type(value) is list and value[0] in named:
                refs[key] = ["{{" + named[value[0]] + "}}", value[1], value[2]]
        return named
