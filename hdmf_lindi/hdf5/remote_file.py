"""A read-only, block-cached file object over a byte source, for h5py on remote files."""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

from ..errors import RemoteReadError
from ..storage.sources import ByteSource

__all__ = ["BlockCachedFile"]

_T = TypeVar("_T")

BLOCK_BYTES = 8 << 10  # 8 KiB aligned blocks
HEAD_BYTES = 16 << 10  # 16 KiB: superblock and root group, read with the size in one request
TAIL_BYTES = 256 << 10  # 256 KiB: where h5py and pynwb leave most metadata of a written file
TAIL_FRACTION = 100  # ... or 1/100 of the file, if larger (up to MAX_TAIL_BYTES)
MAX_TAIL_BYTES = 16 << 20  # 16 MiB: the tail (with its extensions) grows no larger
TAIL_REACH = 4  # a miss within this many tail lengths before the tail extends it (see _extend_tail)
EXTEND_MIN_FILE_BYTES = 4 << 20  # smaller files: no extension (it would mostly read data chunks)
MAX_REQUEST_BYTES = 4 << 20  # 4 MiB: growing requests stop here
NEAR_FACTOR = 32  # a miss this many request lengths from the previous request grows the next one
MAX_CACHED_BYTES = 64 << 20  # 64 MiB


@runtime_checkable
class _PrefixReader(Protocol):
    """A source that returns leading bytes and the total size in one request (HttpSource)."""

    def read_prefix(self, max_bytes: int) -> tuple[bytes, int]: ...


class BlockCachedFile(io.RawIOBase):
    """A seekable binary file reading aligned blocks of ``source`` and caching them (LRU).

    HDF5 metadata is read in small scattered pieces: the superblock and root group at the start,
    B-tree nodes between the chunks they index, and (in files written by h5py and pynwb) most
    object headers and heaps near the end. The request pattern follows that layout:

    * the first request reads the head of the file and learns its size (no separate size probe
      when the source can do both at once);
    * the first miss in the tail reads that whole tail in one request: the last ``TAIL_BYTES``,
      or 1% of the file when larger (the size is known from the first request);
    * a miss just before the tail (within ``TAIL_REACH`` tail lengths) extends the tail
      backwards in one request (to at least twice its length), so that a pynwb file whose
      late metadata spans more than the first guess is still read in three requests;
    * any other miss reads one small aligned block, so isolated B-tree nodes cost little;
    * a miss close to the previous request (within ``NEAR_FACTOR`` times its length) doubles the
      request size, up to ``MAX_REQUEST_BYTES``, so that a file dense with metadata is read in
      a few large requests rather than many small ones.

    Parameters
    ----------
    source
        Where the bytes come from.
    block_bytes
        Size of one aligned block, in bytes. Defaults to 8 KiB.
    """

    def __init__(self, source: ByteSource, *, block_bytes: int = BLOCK_BYTES) -> None:
        super().__init__()
        self._source = source
        self._block = block_bytes
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._max_blocks = max(1, MAX_CACHED_BYTES // block_bytes)
        self._max_span = max(1, MAX_REQUEST_BYTES // block_bytes)
        self._span = 1
        self._last: tuple[int, int] | None = None  # (start, stop) of the last block request
        self._pos = 0
        self.requests = 0
        """How many range requests this file object has made."""
        self.error: BaseException | None = None
        """The last exception raised by the source (h5py turns it into a plain OSError)."""
        head_bytes = -(-HEAD_BYTES // block_bytes) * block_bytes
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
        tail = min(max(TAIL_BYTES, self._size // TAIL_FRACTION), MAX_TAIL_BYTES)
        self._tail_start = max(0, self._size - tail) // block_bytes * block_bytes
        self._tail_pending = self._tail_start >= head_bytes
        self._head_end = head_bytes
        self._extensions = 0

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

    def _next_span(self, start: int) -> int:
        """How many blocks a miss at ``start`` reads: grows while misses stay close together."""
        last = self._last
        if last is not None:
            last_start, last_stop = last
            distance = min(abs(start - last_stop), abs(start - last_start))
            if distance <= NEAR_FACTOR * (last_stop - last_start):
                self._span = min(self._span * 2, self._max_span)
                return self._span
        self._span = 1
        return 1

    def _ensure(self, first: int, last: int) -> None:
        """Make blocks ``first..last`` (inclusive) resident, reading the missing ones."""
        block, blocks = self._block, self._blocks
        n_blocks = -(-self._size // block)
        i = first
        while i <= last:
            if i in blocks:
                blocks.move_to_end(i)
                i += 1
                continue
            if self._tail_pending and (last + 1) * block > self._tail_start:
                self._tail_pending = False
                self._read(self._tail_start, self._size)
                continue
            if self._extend_tail(i):
                continue
            want = max(self._next_span(i * block), last - i + 1)
            stop = i + 1
            while stop < min(i + want, n_blocks) and stop not in blocks:
                stop += 1
            self._read(i * block, min(stop * block, self._size))
            self._last = (i * block, min(stop * block, self._size))
            i = stop

    def _extend_tail(self, index: int) -> bool:
        """Read the tail further back if block ``index`` lies just before it; True if read.

        pynwb's late metadata (object headers, heaps, B-tree nodes of the last objects written)
        sits at the end of the file, over a span the first tail guess may not cover. A miss
        within ``TAIL_REACH`` tail lengths before the tail reads, in one request, everything
        from the miss (or from half the tail's length before the tail, if earlier; a whole
        tail length once the tail was read) to the tail -- and the tail itself if it was not
        read yet. This happens at most twice (the first
        time with the tail), never over blocks already read, and not in files smaller than
        ``EXTEND_MIN_FILE_BYTES``, where the fixed tail is already a large share and the span
        before it is mostly data chunks.
        """
        block = self._block
        start = index * block
        if self._size < EXTEND_MIN_FILE_BYTES or self._extensions >= 2:
            return False
        if start >= self._tail_start or start < self._head_end:
            return False
        length = self._size - self._tail_start
        if start < self._tail_start - TAIL_REACH * length or 2 * length > MAX_TAIL_BYTES:
            return False
        # with the tail: half its length again before it (the metadata span of pynwb's files
        # rarely exceeds 1.5 tails); later: doubling what has been read
        margin = length // 2 if self._tail_pending else length
        first = max(self._head_end // block, min(index, (self._tail_start - margin) // block))
        stop = -(-self._size // block) if self._tail_pending else self._tail_start // block
        while first < index and first in self._blocks:
            first += 1
        if any(i in self._blocks for i in range(first, stop)):
            return False  # some of it was read already: read block by block instead
        self._read(first * block, min(stop * block, self._size))
        self._tail_start = first * block
        self._tail_pending = False
        self._extensions += 1
        return True

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
