"""The byte layout of a cloud-friendly ``.lindi.tar``: ustar headers, entry and index records.

See ``lindi-format.md`` §7. The archive is a POSIX ustar file whose first member,
``.tar_entry.json`` (exactly 1024 bytes at data offset 512), points at ``.tar_index.json``,
which lists every live member as ``{"n": name, "o": header offset, "d": data offset, "s": size}``.
The index is authoritative; member headers are written for standard tar tools only.

Space planning for updates (:func:`free_regions`, :func:`plan_pair`) lives here too. Every byte
between live members is dead (trash left by earlier flushes, by lindi, or by an interrupted
writer), so the free regions are simply the complement of the index. A flush writes its new
index and ``lindi.json`` as one *pair*, index first and ``lindi.json`` right after it:

* into the smallest free region that holds the pair (best fit), using at most
  :func:`growth_bytes` of it; a longer region keeps its rest as one trash member, so the live
  ``lindi.json`` never carries more than the growth room;
* otherwise appended at the end (over dead members that end the archive, if any), in a region of :func:`growth_bytes` (the pair's size plus
  25 % or 64 KiB of room, whichever is more, in whole 512-byte blocks). ``lindi.json`` fills the
  region, padded with spaces as lindi pads it, so that the next flushes fit the region again.

Pure: no I/O.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypedDict

from ..errors import ContainerPathError, TarLayoutError

__all__ = [
    "BLOCK",
    "ENTRY_NAME",
    "ENTRY_SIZE",
    "GROWTH_MIN_BYTES",
    "INDEX_NAME",
    "INITIAL_SLOT",
    "JSON_NAME",
    "PairPlan",
    "Record",
    "check_member_name",
    "encode_json",
    "encode_padded_json",
    "free_regions",
    "growth_bytes",
    "make_header",
    "member_size",
    "padded_size",
    "parse_padded_json",
    "parse_record",
    "plan_pair",
    "trash_header",
]

BLOCK = 512
ENTRY_NAME = ".tar_entry.json"
INDEX_NAME = ".tar_index.json"
JSON_NAME = "lindi.json"
ENTRY_SIZE = 1024
INITIAL_SLOT = 8192  # initial slot of the index and of lindi.json, as lindi writes them
GROWTH_MIN_BYTES = 64 << 10  # 64 KiB: the least room an appended index + lindi.json pair gets
_MAX_NAME_BYTES = 100


class Record(TypedDict):
    """One member of the index."""

    n: str
    o: int
    d: int
    s: int


def padded_size(size: int) -> int:
    """Round ``size`` up to a whole number of 512-byte blocks."""
    return -(-size // BLOCK) * BLOCK


def _octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}".encode("ascii") + b"\0"


def _checksum(header: bytearray) -> bytes:
    header[148:156] = b" " * 8
    return f"{sum(header):06o}".encode("ascii") + b"\0 "


def make_header(name: str, size: int) -> bytes:
    """Return the 512-byte ustar header lindi writes for a regular file member.

    Raises
    ------
    TarLayoutError
        If the name does not fit the 100-byte name field or the size exceeds 8 GiB - 1.
    """
    raw = name.encode("utf-8")
    if len(raw) > _MAX_NAME_BYTES:
        raise TarLayoutError(f"Tar member name {name!r} is longer than {_MAX_NAME_BYTES} bytes.")
    if size >= 8 << 30:
        raise TarLayoutError(f"Tar member {name!r} of {size} bytes exceeds the 8 GiB ustar limit.")
    header = bytearray(BLOCK)
    header[0:len(raw)] = raw
    header[100:108] = _octal(0o644, 8)
    header[108:116] = _octal(0, 8)
    header[116:124] = _octal(0, 8)
    header[124:136] = _octal(size, 12)
    header[136:148] = _octal(0, 12)
    header[156:157] = b"0"
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    header[148:156] = _checksum(header)
    return bytes(header)


def trash_header(header: bytes, new_name: str) -> bytes:
    """Return ``header`` renamed to ``new_name`` (a ``.trash/...`` name), prefix zeroed."""
    raw = new_name.encode("utf-8")[:_MAX_NAME_BYTES]
    out = bytearray(header)
    out[0:100] = raw.ljust(100, b"\0")
    out[345:500] = bytes(155)
    out[148:156] = _checksum(out)
    return bytes(out)


def encode_json(obj: Any) -> bytes:
    """Serialise ``obj`` as lindi does: indent 2, sorted keys, ASCII."""
    return json.dumps(obj, indent=2, sort_keys=True).encode("ascii")


def encode_padded_json(obj: Any, slot: int) -> bytes:
    """Serialise ``obj`` as lindi does (indent 2, sorted keys) and pad with spaces to ``slot``.

    Raises
    ------
    TarLayoutError
        If the JSON does not fit in the slot.
    """
    data = encode_json(obj)
    if len(data) > slot:
        raise TarLayoutError(f"JSON of {len(data)} bytes does not fit a {slot}-byte slot.")
    return data + b" " * (slot - len(data))


def parse_padded_json(data: bytes, what: str, location: str) -> Any:
    """Parse JSON followed by padding spaces or NULs.

    Raises
    ------
    TarLayoutError
        If the bytes are not JSON.
    """
    try:
        return json.loads(data.rstrip(b" \x00").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TarLayoutError(
            f"{what} of {location} is not valid JSON ({exc}). The archive is corrupt or "
            "truncated; it is not a readable .lindi.tar."
        ) from exc


def check_member_name(name: str, location: str) -> None:
    """Refuse member names that would escape the archive.

    Raises
    ------
    ContainerPathError
        For an absolute name, a ``..`` component, or a backslash.
    """
    norm = posixpath.normpath(name)
    if name.startswith("/") or "\\" in name or norm == ".." or norm.startswith("../"):
        raise ContainerPathError(
            f"Tar member name {name!r} in {location} escapes the archive (absolute path or "
            "'..'); refusing to use it. The file may be malicious or corrupt."
        )


def parse_record(obj: Any, size: int, location: str) -> Record:
    """Validate one index record against the archive size.

    Raises
    ------
    TarLayoutError
        If fields are missing or not integers, ``d != o + 512``, or the member extends past the
        end of the archive (a truncated file).
    ContainerPathError
        If the member name escapes the archive.
    """
    # Hot path (one call per member when opening an archive): plain type checks only.
    try:
        name, o, d, s = obj["n"], obj["o"], obj["d"], obj["s"]
    except (KeyError, TypeError, IndexError):
        name = o = d = s = None
    if type(name) is not str or type(o) is not int or type(d) is not int or type(s) is not int:
        raise TarLayoutError(
            f"Index record {json.dumps(obj)[:120]} of {location} is malformed; expected "
            '{"n": name, "o": int, "d": int, "s": int}.'
        )
    if name[:1] == "/" or ".." in name or "\\" in name:
        check_member_name(name, location)
    if d != o + BLOCK or o < 0 or s < 0:
        raise TarLayoutError(
            f"Index record for {name!r} in {location} is inconsistent: data offset "
            f"{d} should be header offset {o} + 512."
        )
    if d + s > size:
        raise TarLayoutError(
            f"Member {name!r} of {location} ends at byte {d + s}, past "
            f"the end of the {size}-byte archive: the file is truncated. Re-download or "
            "restore it."
        )
    return Record(n=name, o=o, d=d, s=s)


# ---------------------------------------------------------------------- space planning


def growth_bytes(length: int) -> int:
    """Size of a region appended for ``length`` bytes: 25 % or 64 KiB of room, whichever is more.

    Rounded up to whole 512-byte blocks: ``growth_bytes(1_000_000) == 1_250_304``,
    ``growth_bytes(4_096) == 69_632``.
    """
    return padded_size(max(length + length // 4, length + GROWTH_MIN_BYTES))


def free_regions(records: Iterable[Record], end: int) -> list[tuple[int, int]]:
    """The dead byte ranges ``[start, stop)`` below ``end`` that no record covers, in order.

    A record covers its header and its data padded to whole blocks. ``end`` is where the end
    marker starts; the last region ends there when dead members follow the last live one.
    """
    regions: list[tuple[int, int]] = []
    pos = 0
    for start, stop in sorted((r["o"], r["d"] + padded_size(r["s"])) for r in records):
        if start > pos:
            regions.append((pos, min(start, end)))
        pos = max(pos, stop)
    regions.append((pos, end))
    return [(a, b) for a, b in regions if a < b]


def member_size(header: bytes) -> int | None:
    """The data size of a valid ustar header (magic and checksum checked), else None.

    Used to walk dead members (trash left by earlier flushes) and to tell them from the bytes
    an interrupted writer may have left.
    """
    if len(header) != BLOCK or header[257:262] != b"ustar":
        return None
    try:
        stored, size = int(header[148:154], 8), int(header[124:135], 8)
    except ValueError:
        return None
    if stored != sum(header[:148]) + 8 * 32 + sum(header[156:]):
        return None
    return size


@dataclass(frozen=True, slots=True)
class PairPlan:
    """Where a flush writes its new index and ``lindi.json``: two adjacent members.

    Offsets are header offsets; the data of each member starts 512 bytes later.
    """

    index_o: int
    """Header offset of the new index."""
    index_s: int
    """Data size of the new index (whole blocks)."""
    json_o: int
    """Header offset of the new ``lindi.json`` (``index_o + 512 + index_s``)."""
    json_s: int
    """Data size of the new ``lindi.json`` (whole blocks, the growth room included)."""
    region_stop: int
    """Where the free region used by the pair ends. When it is past the end of ``lindi.json``,
    one trash member covers the rest of the region."""
    appended: bool
    """True when the pair goes at the end of the archive, False when it reuses a free region."""
    spare_o: int | None
    """Header offset of a spare region appended just before the pair (one trash member as
    large as the pair's region), or None."""
    end: int
    """Where the end-of-archive marker goes after the flush."""

    @property
    def json_stop(self) -> int:
        """Where the data of the new ``lindi.json`` ends."""
        return self.json_o + BLOCK + self.json_s


def plan_pair(
    regions: list[tuple[int, int]], end: int, index_len: int, json_len: int, *, spare: bool
) -> PairPlan:
    """Place a new index of ``index_len`` bytes and ``lindi.json`` of ``json_len`` bytes.

    ``regions`` are the free regions (:func:`free_regions`) and ``end`` the current end of the
    archive. With ``spare``, the pair is appended after a spare region of the same size, so
    that the next flush can reuse the spare instead of growing the archive (used once, when a
    new archive is published).
    """
    index_s = padded_size(index_len)
    need = 2 * BLOCK + index_s + padded_size(json_len)
    room = growth_bytes(need)
    fits = [r for r in regions if r[1] - r[0] >= need]
    if fits and not spare:
        start, region_stop = min(fits, key=lambda r: (r[1] - r[0], r[0]))
        stop = min(region_stop, start + room)
        appended = False
    else:
        if regions and regions[-1][1] == end:  # dead members at the end: append over them
            end = regions[-1][0]
        start, appended = end + (room if spare else 0), True
        stop = region_stop = start + room
    json_o = start + BLOCK + index_s
    return PairPlan(
        index_o=start, index_s=index_s, json_o=json_o, json_s=stop - json_o - BLOCK,
        region_stop=region_stop, appended=appended, spare_o=end if spare else None,
        end=max(end, region_stop),
    )
