"""The byte layout of a cloud-friendly ``.lindi.tar``: ustar headers, entry and index records.

See ``lindi-format.md`` §7. The archive is a POSIX ustar file whose first member,
``.tar_entry.json`` (exactly 1024 bytes at data offset 512), points at ``.tar_index.json``,
which lists every live member as ``{"n": name, "o": header offset, "d": data offset, "s": size}``.
The index is authoritative; member headers are written for standard tar tools only.

Pure: no I/O.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any, TypedDict

from ..errors import ContainerPathError, TarLayoutError

__all__ = [
    "BLOCK",
    "ENTRY_NAME",
    "ENTRY_SIZE",
    "INDEX_NAME",
    "INITIAL_SLOT",
    "JSON_NAME",
    "Record",
    "check_member_name",
    "encode_json",
    "encode_padded_json",
    "make_header",
    "padded_size",
    "parse_padded_json",
    "parse_record",
    "trash_header",
]

BLOCK = 512
ENTRY_NAME = ".tar_entry.json"
INDEX_NAME = ".tar_index.json"
JSON_NAME = "lindi.json"
ENTRY_SIZE = 1024
INITIAL_SLOT = 8192  # initial slot of the index and of lindi.json, as lindi writes them
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
