"""Where to read when libhdf5 misses the block cache of a remote file: the read-ahead policy.

libhdf5 reads metadata in small pieces, one after another: each read depends on the previous
one, so every cache miss is a round trip. The policy guesses, from where a miss falls and what
the file has shown so far, how much more to read with it. It was measured on files written by
h5py and pynwb (``benchmarks/README.md``, "Remote indexing"):

* the superblock, the root group and the first objects created sit in the first few KiB;
* objects created after a large dataset was written (and the heaps and B-tree nodes that grew
  while the file was written) sit after that dataset's data: for pynwb, most metadata is in the
  last few hundred KB of the file, whatever its size, and a few objects sit right after each
  big data block;
* the nodes of a chunk index (v1 B-tree leaves, one per 64 chunks by default) are allocated as
  the chunks are written, so they are scattered through the data, each alone;
* in a file of many small objects (many short TimeSeries) metadata and data alternate
  throughout the file: no read of less than the whole file gets it in a few requests.

Hence, for a miss at block ``index`` (``plan``):

1. a file of at most ``SMALL_FILE_BYTES`` is read whole (everything not read yet);
2. the first miss in the tail reads the whole tail: the last ``TAIL_BYTES``, or 1 / ``TAIL_FRACTION``
   of the file if larger (at most ``MAX_TAIL_BYTES``);
3. a miss just before the tail, while the tail is not read yet, extends the tail back to it
   (and half a tail length further) in the same request: pynwb's late metadata often spans a
   little more than the first guess (files of ``EXTEND_MIN_FILE_BYTES`` or more); in a partial
   walk, a miss at most one tail length before the tail, once it was read, reads everything
   from it up to the tail (the late metadata and global heaps there are visited one after
   another, and rule 4 does not apply);
4. any other miss in a file of at most ``WHOLE_BYTES_PER_MISS`` times (1 + the places of the
   spread misses seen so far, see below), and at most ``MAX_WHOLE_BYTES``, reads everything not
   read yet: a small file at its first miss outside head and tail, a larger one only once its
   metadata proved to be spread out. Not for a partial walk (``IndexOptions.only``): it wants
   the objects of one group, a small part of the metadata, so however spread out the file is,
   reading it whole costs more bytes than it saves requests (a 20 MB pynwb session was read
   whole, 21.4 MB, to index its ``/units``); rule 1 still reads a small file whole;
5. any other miss reads a small window: its block and the neighbouring block nearer to where
   libhdf5 reads (an object header and the heap beside it come together), or the blocks the
   read spans if more; a miss close to the previous window (within ``NEAR_FACTOR`` times its
   length) doubles the next one, up to ``MAX_REQUEST_BYTES``, centred on the miss and over
   blocks already read (the objects of a cluster are visited in no particular order).

What the first bytes of a window miss are decides whether it counts as "spread" for rule 4:
nodes of a chunk index (v1 B-tree of type 1, v2 B-tree of chunk records, fixed and extensible
arrays) do not, since their number grows with the data, not with the objects; nor do misses
within ``SPREAD_DISTANCE`` of one that counted (the objects written after one data block lie
together).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ReadAhead", "is_chunk_index_node"]

BLOCK_BYTES = 8 << 10  # 8 KiB aligned blocks
HEAD_BYTES = 16 << 10  # 16 KiB: superblock and root group, read with the size in one request
TAIL_BYTES = 256 << 10  # 256 KiB: where h5py and pynwb leave most metadata of a written file
TAIL_FRACTION = 100  # ... or 1/100 of the file, if larger (up to MAX_TAIL_BYTES)
MAX_TAIL_BYTES = 16 << 20  # 16 MiB: the tail (with its extension) grows no larger
TAIL_REACH = 4  # a miss within this many tail lengths before the tail extends it (rule 3)
EXTEND_MIN_FILE_BYTES = 4 << 20  # smaller files: no extension (it would mostly read data chunks)
MAX_REQUEST_BYTES = 4 << 20  # 4 MiB: growing windows stop here
NEAR_FACTOR = 32  # a miss this many request lengths from the previous window grows the next one
SMALL_FILE_BYTES = 1 << 20  # 1 MiB: read whole at the first miss (the tail alone is a quarter)
WHOLE_BYTES_PER_MISS = 8 << 20  # read whole once file size <= this x (1 + spread misses so far)
SPREAD_DISTANCE = 256 << 10  # misses closer than this to a counted one are the same place
MAX_WHOLE_BYTES = 64 << 20  # larger files are never read whole

# Signatures of metadata that only chunk indexes use (HDF5 file format specification, III.A-H).
_V1_BTREE = b"TREE"
_V2_BTREE = (b"BTHD", b"BTIN", b"BTLF")
_V2_CHUNK_RECORD_TYPES = (10, 11)  # chunked dataset records, unfiltered and filtered
_ARRAY_INDEXES = (b"FAHD", b"FADB", b"EAHD", b"EAIB", b"EASB", b"EADB")


def is_chunk_index_node(head: bytes) -> bool:
    """Whether ``head`` (the first bytes of an HDF5 metadata block) starts a chunk-index node.

    Parameters
    ----------
    head
        At least the first 6 bytes of the block (fewer: never a chunk-index node).

    Returns
    -------
    bool
        True for a v1 B-tree node of type 1 (raw data chunks), a v2 B-tree header or node of
        chunk records, and the fixed and extensible array blocks of HDF5 1.10 chunk indexes.
    """
    signature = head[:4]
    if signature == _V1_BTREE:
        return head[4:5] == b"\x01"
    if signature in _V2_BTREE:
        return len(head) > 5 and head[5] in _V2_CHUNK_RECORD_TYPES
    return signature in _ARRAY_INDEXES


class ReadAhead:
    """The read-ahead state of one remote file: which blocks to read for each cache miss.

    Parameters
    ----------
    size
        The file's size in bytes.
    block
        The block size of the cache, in bytes.
    head_end
        Bytes already read from the start of the file (the first request).
    max_resident_bytes
        How many bytes the cache holds; a file is read whole only if it fits.
    partial
        Whether the reader wants only some of the file's objects (a walk of one group): then
        a file larger than ``SMALL_FILE_BYTES`` is never read whole (rule 4 is off).
    """

    def __init__(
        self, size: int, block: int, head_end: int, *, max_resident_bytes: int, partial: bool = False
    ) -> None:
        self.size = size
        self.block = block
        self.n_blocks = -(-size // block)
        self.head_end = head_end
        tail = min(max(TAIL_BYTES, size // TAIL_FRACTION), MAX_TAIL_BYTES)
        self.tail_start = max(0, size - tail) // block * block
        self.tail_pending = self.tail_start >= head_end
        self.partial = partial
        self.whole_max = 0 if partial else min(MAX_WHOLE_BYTES, max_resident_bytes // block * block)
        """The largest file rule 4 reads whole (0: none, for a partial walk)."""
        self.spread_misses = 0
        """Places (``SPREAD_DISTANCE`` apart) of window misses that were not chunk-index nodes."""
        self._max_span = max(1, MAX_REQUEST_BYTES // block)
        self._span = 1
        self._last: tuple[int, int] | None = None  # (start, stop) bytes of the last window
        self._places: list[int] = []  # where the spread misses were

    def plan(self, index: int, last: int, pos: int, resident: Callable[[int], bool]) -> tuple[int, int, bool]:
        """Blocks ``[start, stop)`` to read for a miss at block ``index``.

        Parameters
        ----------
        index
            The first block of the read that is not resident.
        last
            The last block the read needs.
        pos
            The byte position libhdf5 reads from.
        resident
            Whether a block is in the cache.

        Returns
        -------
        tuple of (int, int, bool)
            ``start`` and ``stop`` blocks, and whether this was a window read (rule 5), whose
            first bytes the caller passes to :meth:`classify`.
        """
        block = self.block
        if self.size <= SMALL_FILE_BYTES:
            self.tail_pending = False
            start, stop = self._unread(index, resident)
            return start, stop, False
        if self.tail_pending and (last + 1) * block > self.tail_start:
            self.tail_pending = False
            return self.tail_start // block, self.n_blocks, False
        extension = self._extend_tail(index, resident)
        if extension is None and self.partial:
            extension = self._fill_to_tail(index, resident)
        if extension is not None:
            return extension[0], extension[1], False
        if self.size <= self.whole_max and self.size <= WHOLE_BYTES_PER_MISS * (self.spread_misses + 1):
            self.tail_pending = False
            start, stop = self._unread(index, resident)
            return start, stop, False
        start, stop = self._window(index, last, pos, resident)
        return start, stop, True

    def classify(self, pos: int, head: bytes) -> None:
        """Count a window miss at byte ``pos`` whose first bytes (where libhdf5 read) are ``head``.

        It counts as spread unless it is a chunk-index node or lies within ``SPREAD_DISTANCE``
        of an earlier miss that was counted (objects written together lie together).
        """
        if is_chunk_index_node(head):
            return
        if all(abs(pos - other) > SPREAD_DISTANCE for other in self._places):
            self.spread_misses += 1
            self._places.append(pos)

    # ------------------------------------------------------------------ the rules
    def _unread(self, index: int, resident: Callable[[int], bool]) -> tuple[int, int]:
        """From the first to the last block not read yet (``index`` is one of them)."""
        first = min(index, self.head_end // self.block)
        while first < index and resident(first):
            first += 1
        stop = self.n_blocks
        while stop - 1 > index and resident(stop - 1):
            stop -= 1
        return first, stop

    def _extend_tail(self, index: int, resident: Callable[[int], bool]) -> tuple[int, int] | None:
        """Rule 3: the tail (not read yet) and the span back to ``index`` in one request."""
        block = self.block
        start = index * block
        if self.size < EXTEND_MIN_FILE_BYTES or not self.tail_pending:
            return None
        if start >= self.tail_start or start < self.head_end:
            return None
        length = self.size - self.tail_start
        if start < self.tail_start - TAIL_REACH * length or 2 * length > MAX_TAIL_BYTES:
            return None
        # half a tail length again before it: pynwb's late metadata rarely spans more than 1.5
        first = max(self.head_end // block, min(index, (self.tail_start - length // 2) // block))
        while first < index and resident(first):
            first += 1
        if any(resident(i) for i in range(first, self.n_blocks)):
            return None  # some of it was read already: read a window instead
        self.tail_start = first * block
        self.tail_pending = False
        return first, self.n_blocks

    def _fill_to_tail(self, index: int, resident: Callable[[int], bool]) -> tuple[int, int] | None:
        """Rule 3, partial walks: from ``index`` up to the tail read already, if that is near."""
        block = self.block
        start = index * block
        if self.tail_pending or start < self.head_end or start >= self.tail_start:
            return None
        if self.tail_start - start > self.size - self.tail_start:
            return None
        stop = index + 1
        while stop * block < self.tail_start and not resident(stop):
            stop += 1
        return index, stop

    def _window(self, index: int, last: int, pos: int, resident: Callable[[int], bool]) -> tuple[int, int]:
        """Rule 5: the missing block(s) and a neighbour, growing while misses stay close."""
        block = self.block
        near = self._next_span(index * block)
        want = max(near, last - index + 1)
        if near == 1:  # isolated: the block(s) of the read, and the neighbour nearer to it
            start, stop = index, last + 1
            if stop - start < 2:
                before = max(pos, index * block) - index * block < block // 2
                if before and index > 0 and not resident(index - 1):
                    start -= 1
                elif stop < self.n_blocks and not resident(stop):
                    stop += 1
        else:  # growing: centred on the miss, over blocks read already (one request, not many)
            start = max(self.head_end // block, index - want // 2)
            while start < index and resident(start):
                start += 1
            stop = min(self.n_blocks, max(start + want, last + 1))
            while stop - 1 > last and resident(stop - 1):
                stop -= 1
        self._last = (start * block, min(stop * block, self.size))
        return start, stop

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
