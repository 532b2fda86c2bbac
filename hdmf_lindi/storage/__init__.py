"""Bytes, reference maps and containers; never interprets Zarr metadata."""

from .chunk_cache import DiskChunkCache
from .containers import Container, Mode, is_hdf5, kind_from_suffix, open_container, sniff_kind
from .dir_container import DirContainer
from .fetcher import Fetcher
from .json_container import JsonContainer
from .refmap import RangeRef, ReferenceMap, encode_inline
from .sources import ByteSource, HttpSource, LocalFileSource, RemoteOptions, is_url, make_session
from .tar_container import TarContainer

__all__ = [
    "ByteSource",
    "Container",
    "DirContainer",
    "DiskChunkCache",
    "Fetcher",
    "HttpSource",
    "JsonContainer",
    "LocalFileSource",
    "Mode",
    "RangeRef",
    "ReferenceMap",
    "RemoteOptions",
    "TarContainer",
    "encode_inline",
    "is_hdf5",
    "is_url",
    "kind_from_suffix",
    "make_session",
    "open_container",
    "sniff_kind",
]
