"""Read planning: merge nearby byte ranges of the same resource into fewer requests. Pure, no I/O.

``plan_reads`` takes ``(start, stop)`` ranges (stop exclusive) of ONE resource and returns
merged requests, each listing which input ranges it serves. Ranges whose gap is at most
``max_gap_bytes`` are merged as long as the merged request stays within ``max_request_bytes``
(a single range larger than the cap is never split). Every input range is covered by exactly
one request, and the input order is recoverable from the indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MergedRead", "plan_reads"]


@dataclass(frozen=True, slots=True)
class MergedRead:
    """One request serving several input ranges."""

    start: int
    """First byte (inclusive)."""
    stop: int
    """Last byte (exclusive)."""
    members: tuple[int, ...]
    """Indices of the input ranges it serves."""


def plan_reads(
    ranges: Sequence[tuple[int, int]], *, max_gap_bytes: int, max_request_bytes: int
) -> list[MergedRead]:
    """Merge ranges of one resource; see the module docstring for the contract."""
    order = sorted(range(len(ranges)), key=lambda i: ranges[i])
    out: list[MergedRead] = []
    cur_start = cur_stop = 0
    members: list[int] = []
    for i in order:
        start, stop = ranges[i]
        if members and start - cur_stop <= max_gap_bytes and max(stop, cur_stop) - cur_start <= max_request_bytes:
            cur_stop = max(cur_stop, stop)
            members.append(i)
            continue
        if members:
            out.append(MergedRead(cur_start, cur_stop, tuple(members)))
        cur_start, cur_stop, members = start, stop, [i]
    if members:
        out.append(MergedRead(cur_start, cur_stop, tuple(members)))
    return out
