"""Reading ``_EXTERNAL_ARRAY_LINK`` datasets by delegating to h5py on the linked HDF5 file."""

from __future__ import annotations

from typing import Any

import h5py

try:  # registers HDF5 plugin filters (blosc, zstd, lz4, bitshuffle ...) with h5py when present
    import hdf5plugin  # noqa: F401
except ImportError:  # pragma: no cover - optional
    pass

from ..errors import NodeNotFoundError
from ..storage.fetcher import Fetcher
from ..storage.sources import is_url
from .remote_file import BlockCachedFile

__all__ = ["ExternalFiles"]


class ExternalFiles:
    """HDF5 files opened for external array links, one per url, closed together."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._files: dict[str, h5py.File] = {}

    def _open(self, url: str) -> h5py.File:
        f = self._files.get(url)
        if f is None:
            if is_url(url):
                f = h5py.File(BlockCachedFile(self._fetcher.source(url)), "r")
            else:
                f = h5py.File(self._fetcher.source(url).name, "r")
            self._files[url] = f
        return f

    def read(self, url: str, name: str, key: Any) -> Any:
        """Read ``dataset[key]`` from dataset ``name`` of the HDF5 file at ``url``.

        Raises
        ------
        NodeNotFoundError
            If the dataset does not exist in the linked file.
        """
        f = self._open(url)
        try:
            ds = f[name]
        except KeyError as exc:
            raise NodeNotFoundError(f"External array link target {name!r} is missing in {url}.") from exc
        return ds[key]

    def close(self) -> None:
        """Close every opened file."""
        for f in self._files.values():
            f.close()
        self._files.clear()
