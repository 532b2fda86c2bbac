"""A read-only, block-cached file object over a byte source, for h5py on remote files."""

from __future__ import annotations

import io
from collections import OrderedDict

from ..storage.sources import ByteSource

__all__ = ["BlockCachedFile"]

BLOCK_BYTES = 64 << 10  # 64 KiB aligned blocks
MAX_SPAN_BLOCKS = 64  # sequential misses grow a request up to 4 MiB
MAX_BLOCKS = 1024  # 64 MiB cached


class BlockCachedFile(io.RawIOBase):
    """A seekable binary file reading aligned blocks of ``source`` and caching them (LRU).

    HDF5 metadata is read in small scattered pieces; each miss fetches one aligned block, and a
    run of sequential misses doubles the request size (up to 64 blocks) so that reading a long
    stretch costs few requests.

    Parameters
    ----------
    source
        Where the bytes come from.
    block_bytes
        Size of one aligned block, in bytes. Defaults to 64 KiB.
    """

    def __init__(self, source: ByteSource, *, block_bytes: int = BLOCK_BYTES) -> None:
        super().__init__()
        self._source = source
        self._size = source.size()
        self._pos = 0
        self._block = block_bytes
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._span = 1
        self._next_sequential = -1
        self.requests = 0
        """How many range requests this file object has made."""
        self.error: BaseException | None = None
        """The last exception raised by the source (h5py turns it into a plain OSError)."""

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

    def _block_data(self, index: int) -> bytes:
        data = self._blocks.get(index)
        if data is not None:
            self._blocks.move_to_end(index)
            return data
        self._span = min(self._span * 2, MAX_SPAN_BLOCKS) if index == self._next_sequential else 1
        last = -(-self._size // self._block)
        span = min(self._span, last - index)
        start = index * self._block
        try:
            payload = self._source.read_range(start, min(start + span * self._block, self._size))
        except Exception as exc:  # noqa: BLE001 -- kept for the caller, which re-raises it
            self.error = exc
            raise
        self.requests += 1
        self._next_sequential = index + span
        for i in range(span):
            self._blocks[index + i] = payload[i * self._block:(i + 1) * self._block]
        while len(self._blocks) > MAX_BLOCKS:
            self._blocks.popitem(last=False)
        return self._blocks[index]

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        want = min(len(view), max(0, self._size - self._pos))
        done = 0
        while done < want:
            index, within = divmod(self._pos + done, self._block)
            data = self._block_data(index)
            n = min(want - done, len(data) - within)
            view[done:done + n] = data[within:within + n]
            done += n
        self._pos += done
        return done
