"""The ``.lindi.tar`` container: reading, creating and crash-safe updating.

Layout and compatibility with lindi 0.4.6 are in :mod:`.tar_layout`. Updates are crash-safe
("write aside, then switch"):

* A new archive is built in a temporary file beside the target and moved over it by the first
  ``flush`` (so mode ``w`` never destroys an existing file before the new one is complete).
* Updating a published archive appends the new blobs, then writes a new index and, right after
  it, a new ``lindi.json`` (the *pair*), and commits by rewriting the 1024-byte entry pointer.
  Nothing a reader can reach is written before the commit, so a failure at any point leaves the
  previous state readable; bytes past the last live member are reclaimed by the next writer.
  When the commit itself fails, either pair may be live, so a retried flush (``close`` retries)
  reuses neither until a commit succeeds.

Space reuse ("ping-pong"). The pair goes into dead space when a free region (bytes between
live members) is large enough, and is appended only otherwise, with growth room
(:func:`.tar_layout.plan_pair`, :func:`.tar_layout.growth_bytes`). After the commit the old pair
is trashed, so two regions alternate: each flush writes into the region the previous flush
left, and the archive grows only by its new blobs while the JSON fits its region. A new archive
whose ``lindi.json`` outgrows lindi's 8 KiB initial slot is published with one spare region of
the pair's size (:attr:`TarContainer.reserve_spare`), so that even its first update need not
grow the file by the size of the JSON.

Member names at every instant. The index alone says what is live; names are for tar tools.
A flush writes its pair under ``.trash/`` names. After the commit it renames the old pair to
``.trash/<name>.<10 random letters>`` (as lindi trashes members), then gives the new pair its
real names, then overwrites the old data with ``-``. So at most one member is ever named
``lindi.json`` (or ``.tar_index.json``), and it is the committed one, except in the few writes
right after the commit, when it is the previous, complete state. A failure between the two
renames leaves no member with that name until the next flush, which also renames any dead
member still carrying a live name (left by a failed commit). Free space is kept as
``.trash/spare.<random>`` members. Every header write keeps the archive a valid tar listing: a
reused region is first covered by one header, filled, and then split by rewriting that header.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import string
from collections.abc import Callable, Sequence

from ..errors import ChunkRefError, TarLayoutError
from .atomic import default_file_mode, temp_path_beside
from .containers import Container
from .fetcher import Fetcher
from .refmap import RangeRef, ReferenceMap
from .sources import ByteSource, HttpSource, LocalFileSource
from .tar_layout import (
    BLOCK,
    ENTRY_NAME,
    ENTRY_SIZE,
    INDEX_NAME,
    INITIAL_SLOT,
    JSON_NAME,
    PairPlan,
    Record,
    encode_json,
    encode_padded_json,
    free_regions,
    make_header,
    member_size,
    padded_size,
    parse_padded_json,
    parse_record,
    plan_pair,
    trash_header,
)

__all__ = ["TarContainer"]

logger = logging.getLogger(__name__)

_TRAILER = bytes(2 * BLOCK)
_HEAD_BYTES = BLOCK + ENTRY_SIZE
_MAX_BLOB_NAME_BYTES = 100
_READ_AHEAD_BYTES = 8 << 20  # 8 MiB: remote opens fetch index + lindi.json in one request

ReadFn = Callable[[int, int], bytes]


SPARE_NAME = "spare"  # trash members that hold free space: .trash/spare.<10 random letters>


def _trash_name(name: str) -> str:
    return f".trash/{name}.{''.join(random.choices(string.ascii_lowercase, k=10))}"


def _overlaps(record: Record, span: tuple[int, int]) -> bool:
    return record["o"] < span[1] and span[0] < record["d"] + padded_size(record["s"])


def _load_layout(read: ReadFn, size: int, location: str) -> tuple[list[Record], ReferenceMap]:
    if size < _HEAD_BYTES:
        raise TarLayoutError(
            f"{location} is {size} bytes long, too short for a .lindi.tar (at least "
            f"{_HEAD_BYTES} bytes): the file is truncated."
        )
    head = read(0, _HEAD_BYTES)
    if head[257:262] != b"ustar":
        raise TarLayoutError(f"{location} has no ustar header; it is not a .lindi.tar archive.")
    entry = parse_padded_json(head[BLOCK:_HEAD_BYTES], "The entry record (.tar_entry.json)", location)
    if not isinstance(entry, dict) or "index" not in entry:
        raise TarLayoutError(
            f"The entry record of {location} has no 'index' pointer; the archive is not a "
            ".lindi.tar or is corrupt."
        )
    index_record = parse_record(entry["index"], size, location)
    if index_record["n"] != INDEX_NAME:
        raise TarLayoutError(
            f"The entry record of {location} points at {index_record['n']!r}, expected "
            f"{INDEX_NAME!r}."
        )
    index = parse_padded_json(
        read(index_record["d"], index_record["d"] + index_record["s"]), "The index", location
    )
    files = index.get("files") if isinstance(index, dict) else None
    if not isinstance(files, list):
        raise TarLayoutError(f"The index of {location} has no 'files' list; the archive is corrupt.")
    records = [parse_record(obj, size, location) for obj in files]
    by_name = {r["n"]: r for r in records}
    entry_record = by_name.get(ENTRY_NAME)
    if entry_record != Record(n=ENTRY_NAME, o=0, d=BLOCK, s=ENTRY_SIZE):
        raise TarLayoutError(
            f"The index of {location} lacks the record {{n: {ENTRY_NAME}, o: 0, d: 512, s: 1024}} "
            f"(found {entry_record}); the archive is inconsistent."
        )
    if by_name.get(INDEX_NAME) != index_record:
        raise TarLayoutError(
            f"The index of {location} does not list itself as the entry record says "
            f"({index_record}); the archive is inconsistent."
        )
    json_record = by_name.get(JSON_NAME)
    if json_record is None:
        raise TarLayoutError(f"{location} has no {JSON_NAME} member; it is not a .lindi.tar.")
    data = read(json_record["d"], json_record["d"] + json_record["s"])
    refmap = ReferenceMap.from_json(data, source=f"{location}/{JSON_NAME}")
    return records, refmap


class TarContainer(Container):
    """A ``.lindi.tar`` archive (local read/write, or remote read-only)."""

    kind = "tar"
    supports_blobs = True
    reserve_spare = True
    """Whether publishing a new archive whose ``lindi.json`` outgrew lindi's 8 KiB initial slot
    appends one spare region as large as the new index + ``lindi.json`` region, so that the
    first update reuses it instead of growing the file by the size of the JSON. Set it to False
    on a container to get the smallest file (as packing wants). Defaults to True."""

    def __init__(
        self,
        location: str,
        refmap: ReferenceMap,
        fetcher: Fetcher,
        records: list[Record],
        source: ByteSource,
        *,
        read_only: bool,
    ) -> None:
        super().__init__(location, refmap, fetcher, read_only=read_only)
        self._records = records
        self._by_name = {r["n"]: r for r in records}
        self._source = source
        self._fd: int | None = None
        self._path: str | None = None  # the file being written (a temp file until published)
        self._published = True
        self._end = 0  # where the next member header goes (the trailer starts here)
        self._index_dirty = False
        self._unsettled: list[Record] = []  # a pair whose commit failed midway (maybe live)
        self._own_entries: set[bytes] = set()  # entry pointers written since the last good flush
        self._held: list[tuple[int, bytes]] = []  # (archive offset, bytes) of chunk-table blobs read at opening

    # ------------------------------------------------------------------ opening
    @classmethod
    def open_local(cls, location: str, fetcher: Fetcher, *, read_only: bool) -> TarContainer:
        """Open an existing local archive (read-only files can be read).

        Raises
        ------
        TarLayoutError
            If the archive is truncated or inconsistent.
        ContainerPathError
            If a member name escapes the archive.
        """
        source = LocalFileSource(location, stats=fetcher.stats)
        records, refmap = _load_layout(source.read_range, source.size(), location)
        container = cls(location, refmap, fetcher, records, source, read_only=read_only)
        if not read_only:
            container._open_for_append(location)
        return container

    @classmethod
    def open_remote(cls, url: str, fetcher: Fetcher, head: bytes, size: int) -> TarContainer:
        """Open a remote archive whose first ``len(head)`` bytes were already fetched.

        Raises
        ------
        TarLayoutError
            If the archive is truncated or inconsistent.
        RemoteReadError
            If a range read fails.
        """
        source = fetcher.source(url)
        assert isinstance(source, HttpSource)

        buffers = [(0, head)]

        def read(start: int, stop: int) -> bytes:
            for base, buf in buffers:
                if base <= start and stop <= base + len(buf):
                    return buf[start - base:stop - base]
            # Read ahead: our writers put lindi.json right after the index (not always at the
            # end: with space reuse, dead members may follow it and are read too).
            ahead = min(size - len(_TRAILER), start + _READ_AHEAD_BYTES)
            buf = source.read_range(start, max(stop, ahead))
            buffers.append((start, buf))
            return buf[:stop - start]

        records, refmap = _load_layout(read, size, url)
        container = cls(url, refmap, fetcher, records, source, read_only=True)
        container._hold_table_bytes(buffers)
        return container

    def _hold_table_bytes(self, buffers: list[tuple[int, bytes]]) -> None:
        """Keep the chunk-table blobs that the opening reads already fetched (a remote archive's
        first MiB usually holds them: our writers put them right after ``lindi.json``), so that
        a table's first use costs no request. The rest of those buffers is dropped."""
        for ref in self.refmap.table_blobs():
            if not ref.is_internal:
                continue
            try:
                _, start, stop = self._resolve_internal(ref, "chunk table")
            except ChunkRefError:
                continue  # reported when the table is used
            for base, buf in buffers:
                if base <= start and stop <= base + len(buf):
                    self._held.append((start, bytes(buf[start - base:stop - base])))
                    break

    def _read_ranges(self, ranges: Sequence[tuple[str, int, int]]) -> list[bytes]:
        """Read chunk-table ranges: from the blobs held since opening, else in one plan."""
        out: list[bytes | None] = [None] * len(ranges)
        plan: list[tuple[ByteSource | str, int, int]] = []
        where: list[int] = []
        for i, r in enumerate(ranges):
            target = self._plan("chunk table", RangeRef(*r))
            source, start, stop = target
            if source is self._source:
                for base, buf in self._held:
                    if base <= start and stop <= base + len(buf):
                        out[i] = buf[start - base:stop - base]
                        break
            if out[i] is None:
                plan.append(target)
                where.append(i)
        if plan:
            for i, data in zip(where, self.fetcher.read_many(plan), strict=True):
                out[i] = bytes(data)
        return [b for b in out if b is not None]

    @classmethod
    def create(cls, location: str, fetcher: Fetcher) -> TarContainer:
        """Start a new archive in a temporary file, laid out as lindi creates one."""
        path = temp_path_beside(location)
        refmap = ReferenceMap({".zgroup": {"zarr_format": 2}}, source=location)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        os.fchmod(fd, default_file_mode(location))
        index_record = Record(n=INDEX_NAME, o=BLOCK + ENTRY_SIZE, d=2 * BLOCK + ENTRY_SIZE, s=INITIAL_SLOT)
        records = [Record(n=ENTRY_NAME, o=0, d=BLOCK, s=ENTRY_SIZE), index_record]
        json_o = index_record["d"] + INITIAL_SLOT
        records.append(Record(n=JSON_NAME, o=json_o, d=json_o + BLOCK, s=INITIAL_SLOT))
        blob = b"".join([
            make_header(ENTRY_NAME, ENTRY_SIZE),
            encode_padded_json({"index": index_record}, ENTRY_SIZE),
            make_header(INDEX_NAME, INITIAL_SLOT),
            encode_padded_json({"files": records}, INITIAL_SLOT),
            make_header(JSON_NAME, INITIAL_SLOT),
            encode_padded_json(refmap.to_dict(), INITIAL_SLOT),
            _TRAILER,
        ])
        os.write(fd, blob)
        source = LocalFileSource(path, stats=fetcher.stats).open()
        container = cls(location, refmap, fetcher, records, source, read_only=False)
        container._fd = fd
        container._path = path
        container._published = False
        container._end = json_o + BLOCK + INITIAL_SLOT
        return container

    def _open_for_append(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR)
        self._path = path
        live_end = max(r["d"] + padded_size(r["s"]) for r in self._records)
        size = os.fstat(self._fd).st_size
        end = self._dead_tail_end(live_end, size)
        if end is None:
            logger.warning(
                "%s has %d unindexed bytes after its last member (an interrupted write?); "
                "they will be overwritten by the next write.",
                path, size - live_end - len(_TRAILER),
            )
            end = live_end
        self._end = end

    def _dead_tail_end(self, pos: int, size: int) -> int | None:
        """Where the end marker starts, if only trash members follow the last live member.

        Earlier flushes leave their old index + ``lindi.json`` pair there when nothing was
        appended after it; that space is free for the next pair. Anything else after the last
        live member (an interrupted writer's bytes) gives None: it is overwritten from ``pos``.
        """
        assert self._fd is not None
        while pos + len(_TRAILER) <= size:
            header = os.pread(self._fd, BLOCK, pos)
            if header == bytes(BLOCK):
                at_end = size == pos + len(_TRAILER) and os.pread(self._fd, len(_TRAILER), pos) == _TRAILER
                return pos if at_end else None
            data_size = member_size(header)
            if data_size is None or not header.startswith(b".trash/"):
                return None
            pos += BLOCK + padded_size(data_size)
        return None

    # ------------------------------------------------------------------ reading
    def _resolve_internal(self, ref: RangeRef, key: str) -> tuple[ByteSource | str, int, int]:
        name = ref.url[2:]
        record = self._by_name.get(name)
        if record is None:
            raise ChunkRefError(
                f"Chunk {key!r} of {self.location} refers to member {name!r}, which is not in the "
                "archive's index. The archive is incomplete.",
                url=self.location, key=key,
            )
        if ref.offset + ref.length > record["s"]:
            raise ChunkRefError(
                f"Chunk {key!r} of {self.location} refers to bytes {ref.offset}-"
                f"{ref.offset + ref.length} of member {name!r}, which has only {record['s']} bytes.",
                url=self.location, key=key,
            )
        start = record["d"] + ref.offset
        return self._source, start, start + ref.length

    # ------------------------------------------------------------------ writing
    def _write_at(self, offset: int, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, offset)
            view = view[written:]
            offset += written

    def _append_member(self, name: str, data: bytes, size: int | None = None) -> Record:
        """Append a member (``data`` padded to ``size`` must already be done by the caller)."""
        size = len(data) if size is None else size
        record = Record(n=name, o=self._end, d=self._end + BLOCK, s=size)
        pad = padded_size(size) - len(data)
        self._write_at(self._end, make_header(name, size) + data + bytes(pad) + _TRAILER)
        self._end = record["d"] + padded_size(size)
        self._records.append(record)
        self._by_name[name] = record
        return record

    def _blob_name(self, key: str) -> str:
        base = "blobs/" + key
        if len(base.encode("utf-8")) > _MAX_BLOB_NAME_BYTES - 8:
            base = "blobs/h/" + hashlib.sha1(key.encode("utf-8")).hexdigest()
        name, version = base, 1
        while name in self._by_name:
            version += 1
            name = f"{base}.v{version}"
        return name

    def _write_blob(self, key: str, data: bytes) -> str:
        # docstring inherited
        name = self._blob_name(key)
        self._append_member(name, data)
        self._index_dirty = True
        return name

    def flush(self) -> None:
        # docstring inherited
        self._check_writable()
        if not (self.refmap.dirty or self._index_dirty or not self._published):
            return
        assert self._fd is not None and self._path is not None
        self._check_commit()
        data = self.refmap.to_json(shard_sink=self._table_sink, home=self.location)
        old_json = self._by_name[JSON_NAME]
        old_index = self._by_name[INDEX_NAME]
        if self._published or not self._rewrite_in_place(data, old_json, old_index):
            self._switch(data, old_json, old_index)
        if not self._published:
            os.fsync(self._fd)
            os.replace(self._path, self.location)
            self._path = self.location
            self._published = True
        self.refmap.dirty = False
        self._index_dirty = False
        self._own_entries.clear()
        self._committed()

    @property
    def published(self) -> bool:
        # docstring inherited
        return self._published

    def _disk_stamp(self) -> object:
        """The archive at the location: its inode and its entry pointer (which only a commit
        rewrites; this writer's appended blobs change the size, not the entry)."""
        if not self._published:
            return super()._disk_stamp()
        try:
            with open(self.location, "rb") as fh:
                st = os.fstat(fh.fileno())
                entry = os.pread(fh.fileno(), ENTRY_SIZE, BLOCK)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino, entry)

    def _stamp_ok(self, now: object, noted: object) -> bool:
        # docstring inherited; a commit of this writer's that failed midway changed the entry
        if now == noted:
            return True
        return (
            isinstance(now, tuple) and isinstance(noted, tuple) and len(now) == 3 and len(noted) == 3
            and now[:2] == noted[:2] and now[2] in self._own_entries
        )

    def _rewrite_in_place(self, data: bytes, old_json: Record, old_index: Record) -> bool:
        """First flush of a new archive (nobody can see it): reuse lindi's initial slots if they fit."""
        index_data = encode_json({"files": self._records})
        if len(data) > old_json["s"] or len(index_data) > old_index["s"]:
            return False
        self._write_at(old_json["d"], data + b" " * (old_json["s"] - len(data)))
        self._write_at(old_index["d"], index_data + b" " * (old_index["s"] - len(index_data)))
        return True

    def _switch(self, data: bytes, old_json: Record, old_index: Record) -> None:
        """Write a new index + ``lindi.json`` pair, commit by rewriting the entry, trash the old pair.

        The pair goes into free space left by earlier flushes when a region is large enough,
        else at the end (:func:`.tar_layout.plan_pair`). Until the commit, nothing a reader can
        reach is touched and the new members are named as trash; the commit is the single
        1024-byte entry rewrite. A new archive (not yet published) may reuse its initial slots
        and gets a spare region (:attr:`reserve_spare`).
        """
        assert self._fd is not None
        published = self._published
        live = [r for r in self._records if r is not old_json and r is not old_index]
        # A new archive is invisible: its initial slots are free.
        kept = self._records + self._unsettled if published else live
        end = self._end if published else max(r["d"] + padded_size(r["s"]) for r in kept)
        big = 1 << 50  # over-estimates the digits of the two new records
        probe = live + [Record(n=INDEX_NAME, o=big, d=big, s=big), Record(n=JSON_NAME, o=big, d=big, s=big)]
        regions = free_regions(kept, end)
        if published:
            self._sweep_names(regions)
        plan = plan_pair(
            regions, end, len(encode_json({"files": probe})), len(data),
            spare=not published and self.reserve_spare,
        )
        if not published:
            os.ftruncate(self._fd, end)  # drop initial slots that no blob follows: no stale bytes
        index_record = Record(n=INDEX_NAME, o=plan.index_o, d=plan.index_o + BLOCK, s=plan.index_s)
        json_record = Record(n=JSON_NAME, o=plan.json_o, d=plan.json_o + BLOCK, s=plan.json_s)
        records = live + [index_record, json_record]
        self._write_pair(plan, encode_padded_json({"files": records}, plan.index_s), data)
        self._seal_tail(plan.end)
        os.fsync(self._fd)
        entry = encode_padded_json({"index": index_record}, ENTRY_SIZE)
        # If the commit fails, any pair written since the last good commit may be the live one:
        # a retried flush must reuse none of them.
        self._unsettled += [index_record, json_record]
        self._own_entries.add(entry)  # if the commit fails midway, the entry on disk may be this one
        self._write_at(BLOCK, entry)  # the commit
        os.fsync(self._fd)
        self._records = records
        self._by_name = {r["n"]: r for r in records}
        self._unsettled = []
        written = (plan.index_o if plan.spare_o is None else plan.spare_o, plan.region_stop)
        old = [r for r in (old_index, old_json) if published or not _overlaps(r, written)]
        for record in old:
            self._trash_header(record)
        self._write_at(index_record["o"], make_header(INDEX_NAME, index_record["s"]))
        self._write_at(json_record["o"], make_header(JSON_NAME, json_record["s"]))
        for record in old:
            self._write_at(record["d"], b"-" * record["s"])

    def _write_pair(self, plan: PairPlan, index_data: bytes, data: bytes) -> None:
        """Write the new pair where ``plan`` says, named as trash; no live byte is touched.

        In a reused region, the first header is first made to cover the whole region, so that
        the bytes behind it are the data of one dead member; the pair and a trailing trash
        member are written inside it; and the first header is rewritten last with the index's
        size. A plain tar listing stays valid after each of these writes.
        """
        body = b"".join([
            index_data,
            make_header(_trash_name(JSON_NAME), plan.json_s),
            data, b" " * (plan.json_s - len(data)),
        ])
        if plan.region_stop > plan.json_stop:
            body += make_header(_trash_name(SPARE_NAME), plan.region_stop - plan.json_stop - BLOCK)
        if plan.spare_o is not None:  # the spare's data is left unwritten (a hole where possible)
            self._write_at(plan.spare_o, make_header(_trash_name(SPARE_NAME), plan.index_o - plan.spare_o - BLOCK))
        if plan.appended:
            self._write_at(plan.index_o, make_header(_trash_name(INDEX_NAME), plan.index_s) + body + _TRAILER)
            return
        self._write_at(plan.index_o, make_header(_trash_name(SPARE_NAME), plan.region_stop - plan.index_o - BLOCK))
        self._write_at(plan.index_o + BLOCK, body)
        self._write_at(plan.index_o, make_header(_trash_name(INDEX_NAME), plan.index_s))

    def _seal_tail(self, end: int) -> None:
        """Make the archive end with the end-of-archive marker at ``end`` and nothing after it.

        The bytes from ``end`` on belong to no committed member (an interrupted writer may have
        left some there), so this is safe before the commit.
        """
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        if size != end + len(_TRAILER) or os.pread(self._fd, len(_TRAILER), end) != _TRAILER:
            self._write_at(end, _TRAILER)
            if size > end + len(_TRAILER):
                os.ftruncate(self._fd, end + len(_TRAILER))
        self._end = end

    def _sweep_names(self, regions: list[tuple[int, int]]) -> None:
        """Give a ``.trash/`` name to any dead member in ``regions`` that still has another name.

        Only a failed commit leaves such a member (an old ``lindi.json`` or index still named
        so); renaming it keeps live names unique for tar tools. One read per dead member.
        """
        assert self._fd is not None
        for start, stop in regions:
            pos = start
            while pos + BLOCK <= stop:
                header = os.pread(self._fd, BLOCK, pos)
                size = member_size(header)
                if size is None:
                    break
                if not header.startswith(b".trash/"):
                    name = header[:100].rstrip(b"\0").decode("utf-8", "replace")
                    self._write_at(pos, trash_header(header, _trash_name(name)))
                pos += BLOCK + padded_size(size)

    def _trash_header(self, record: Record) -> None:
        """Rename a dead member to ``.trash/<name>.<10 random letters>``, as lindi does."""
        assert self._fd is not None
        header = os.pread(self._fd, BLOCK, record["o"])
        self._write_at(record["o"], trash_header(header, _trash_name(record["n"])))

    def _release(self) -> None:
        # docstring inherited
        self._source.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if not self._published and self._path is not None and os.path.exists(self._path):
            os.unlink(self._path)
