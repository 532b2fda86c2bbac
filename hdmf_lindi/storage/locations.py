"""Where the chunks of each array live, summarised for a whole reference map in one pass.

``hdmf-lindi info`` shows, beside every dataset, how many of its chunks are inline, how many are
blobs inside the container and which other files hold the rest. Asking the reference map once
per dataset scans every key for every dataset (quadratic: 65 million prefix tests on a
16,000-reference index); this module groups the keys by array path in a single pass instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .refmap import ReferenceMap

__all__ = ["ChunkLocations", "chunk_locations"]


@dataclass(slots=True)
class ChunkLocations:
    """How the chunk references of one array are stored."""

    inline: int = 0
    """Chunks held in the reference map itself (base64 or text)."""
    internal: int = 0
    """Chunks that are blobs of the same container (``./NAME``)."""
    external: dict[str, int] = field(default_factory=dict)
    """URL or path of another file -> number of chunks it holds."""

    def describe(self) -> str:
        """One line: ``"3 inline, 2 internal, external URL"``, or ``"no chunks"``."""
        parts = [f"{self.inline} inline"] if self.inline else []
        if self.internal:
            parts.append(f"{self.internal} internal")
        parts += [f"external {url}" for url in sorted(self.external)]
        return ", ".join(parts) or "no chunks"


def chunk_locations(refmap: ReferenceMap) -> dict[str, ChunkLocations]:
    """Summarise the chunk references of every array in ``refmap``, in time linear in its size.

    Parameters
    ----------
    refmap
        The reference map to summarise. Chunk tables are counted whole (one url each), without
        spelling out their keys.

    Returns
    -------
    dict
        Array path (no leading ``/``; ``""`` for the root) -> its :class:`ChunkLocations`.
        Arrays without any chunk reference are absent.
    """
    found: dict[str, ChunkLocations] = {}
    expanded: dict[str, str] = {}  # templated url -> its expansion, computed once per url
    arrays: list[str] = []
    last_path, locations = None, ChunkLocations()
    for key, raw in refmap.raw_items():
        path, _, name = key.rpartition("/")
        if name[:1] == ".":
            if name == ".zarray":
                arrays.append(path)
            continue
        if path != last_path:  # an array's chunk keys usually come one after another
            last_path = path
            locations = found.get(path) or found.setdefault(path, ChunkLocations())
        if type(raw) is not list:
            locations.inline += 1
            continue
        url = raw[0]
        if "{{" in url:
            url = expanded.get(url) or expanded.setdefault(url, _expanded_url(refmap, key))
        if url.startswith("./"):
            locations.internal += 1
        else:
            locations.external[url] = locations.external.get(url, 0) + 1
    for path in arrays:
        table = refmap.chunk_table(path)
        if table is None or not table.count:
            continue
        locations = found.setdefault(path, ChunkLocations())
        if table.url.startswith("./"):
            locations.internal += table.count
        else:
            locations.external[table.url] = locations.external.get(table.url, 0) + table.count
    return found


def _expanded_url(refmap: ReferenceMap, key: str) -> str:
    value = refmap.get(key)
    assert value is not None and not isinstance(value, bytes)  # a list entry is a range
    return value.url
