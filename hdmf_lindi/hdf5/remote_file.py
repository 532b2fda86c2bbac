"""A read-only, block-cached file object over a byte source, for h5py on remote files."""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

from ..errors import RemoteReadError
from ..storage.sources import ByteSource
from .readahead import BLOCK_BYTES, HEAD_BYTES, MAX_REQUEST_BYTES, TAIL_BYTES, ReadAhead

__all__ = ["BLOCK_BYTES", "HEAD_BYTES", "MAX_REQUEST_BYTES", "TAIL_BYTES", "BlockCachedFile"]

_T = TypeVar("_T")

MAX_CACHED_BYTES = 64 << 20  # 64 MiB


@runtime_checkable
class _PrefixReader(Protocol):
    """A source that returns leading bytes and the total size in one request (HttpSource)."""

    def read_prefix(self, max_bytes: int) -> tuple[bytes, int]: ...


class BlockCachedFile(io.RawIOBase):
    """A seekable binary file reading aligned blocks of ``source`` and caching them (LRU).

    The first request reads the head of the file (superblock and root group) and learns its
    size (no separate size probe when the source can do both at once). Each later cache miss
    reads what :class:`~.readahead.ReadAhead` plans: the whole tail, the whole file, or a small
    window growing while misses stay close -- the request pattern and its measurements are
    described there.

    Parameters
    ----------
    source
        Where the bytes come from.
    block_bytes
        Size of one aligned block, in bytes. Defaults to 8 KiB.
    readahead
        False: read only the blocks libhdf5 asks for, one request per miss, after a first
        request of one block (to measure what libhdf5 reads; see ``benchmarks/bench_convert.py``).
    partial
        Whether the reader wants only some of the file's objects (``IndexOptions.only``): the
        read-ahead then never reads a file larger than 1 MiB whole. Defaults to False.
    """

    def __init__(
        self, source: ByteSource, *, block_bytes: int = BLOCK_BYTES, readahead: bool = True, partial: bool = False
    ) -> None:
        super().__init__()
        self._source = source
        self._block = block_bytes
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._max_blocks = max(1, MAX_CACHED_BYTES // block_bytes)
        self._pos = 0
        self.requests = 0
        """How many range requests this file object has made."""
        self.error: BaseException | None = None
        """The last exception raised by the source (h5py turns it into a plain OSError)."""
        head_bytes = -(-HEAD_BYTES // block_bytes) * block_bytes if readahead else block_bytes
        if isinstance(source, _PrefixReader):
            head, self._size = self._call(source.read_prefix, head_bytes)
            if len(head) > head_bytes:
                raise RemoteReadError(
                    f"Cannot read {source.name} by range: the server answered the request for "
                    f"bytes 0-{head_bytes - 1} with the whole {len(head)}-byte file (Range "
                    "ignored). Use a server that supports range requests, or download the file.",
                    url=source.name,
                    status=200,
                    byte_range=(0, head_bytes),
                )
            self.requests += 1
            self._store(0, head)
        else:
            self._size = self._call(source.size)
            head_bytes = 0  # nothing read yet
        self._plan: ReadAhead | None = None
        if readahead:
            self._plan = ReadAhead(
                self._size, block_bytes, head_bytes, max_resident_bytes=self._max_blocks * block_bytes,
                partial=partial,
            )

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    # ------------------------------------------------------------------ fetching
    def _call(self, func: Callable[..., _T], *args: int) -> _T:
        try:
            return func(*args)
        except Exception as exc:  # noqa: BLE001 -- kept for the caller, which re-raises it
            self.error = exc
            raise

    def _store(self, start: int, payload: bytes) -> None:
        """Cache ``payload`` (read at block-aligned ``start``) block by block."""
        first = start // self._block
        for i in range(-(-len(payload) // self._block)):
            self._blocks[first + i] = payload[i * self._block:(i + 1) * self._block]
        while len(self._blocks) > self._max_blocks:
            self._blocks.popitem(last=False)

    def _read(self, start: int, stop: int) -> None:
        self._store(start, self._call(self._source.read_range, start, stop))
        self.requests += 1

    def _ensure(self, first: int, last: int) -> None:
        """Make blocks ``first..last`` (inclusive) resident, reading the missing ones."""
        block, blocks, plan = self._block, self._blocks, self._plan
        i = first
        while i <= last:
            if i in blocks:
                blocks.move_to_end(i)
                i += 1
                continue
            window = False
            if plan is None:
                start, stop = i, i + 1
                while stop <= last and stop not in blocks:
                    stop += 1
            else:
                start, stop, window = plan.plan(i, last, self._pos, blocks.__contains__)
            self._read(start * block, min(stop * block, self._size))
            if window and plan is not None:
                plan.classify(self._pos, self._peek(self._pos, 6))

    def _peek(self, offset: int, length: int) -> bytes:
        """Up to ``length`` resident bytes from ``offset`` (fewer where a block is missing)."""
        out = b""
        while len(out) < length:
            data = self._blocks.get((offset + len(out)) // self._block)
            if data is None:
                break
            within = (offset + len(out)) % self._block
            piece = data[within:within + length - len(out)]
            if not piece:
                break
            out += piece
        return out

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        want = min(len(view), max(0, self._size - self._pos))
        if want <= 0:
            return 0
        block = self._block
        first, last = self._pos // block, (self._pos + want - 1) // block
        self._ensure(first, last)
        done = 0
        while done < want:
            index, within = divmod(self._pos + done, block)
            data = self._blocks.get(index)
            if data is None:  # evicted while making room for a later block of this read
                self._ensure(index, index)
                data = self._blocks[index]
            n = min(want - done, len(data) - within)
            view[done:done + n] = data[within:within + n]
            done += n
        self._pos += done
        return done
