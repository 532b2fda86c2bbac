"""LindiDataIO, and how ``H5DataIO`` settings carry over to LINDI datasets.

Users of pynwb already wrap data in ``H5DataIO(data, chunks=..., compression="gzip", shuffle=True)``;
pointing such a script at ``NWBLindiIO`` keeps its chunking and compression (gzip becomes
numcodecs' GZip, which lindi reads too). ``LindiDataIO`` takes numcodecs codecs directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hdmf.data_utils import DataIO
from numcodecs.abc import Codec

from ..errors import UnsupportedError

__all__ = ["LindiDataIO", "StorageSettings", "settings_from_dataio"]

logger = logging.getLogger(__name__)


@dataclass
class StorageSettings:
    """How to store one dataset (what create_dataset needs beyond shape and dtype)."""

    chunks: tuple[int, ...] | None = None
    compression: Any = None
    compression_opts: Any = None
    compressor: Codec | None = None
    shuffle: bool = False
    fillvalue: Any = None
    link_data: bool | None = None
    shape: tuple[int, ...] | None = None
    dtype: Any = None


class LindiDataIO(DataIO):
    """Wrap data with LINDI storage settings (the LINDI counterpart of ``H5DataIO``).

    Parameters
    ----------
    data
        The data (array, list, ``DataChunkIterator`` ...), or None with ``shape`` and ``dtype``
        to allocate an empty dataset.
    chunks
        Chunk shape; default: about 1 MiB chunks along the first axis.
    compressor
        A numcodecs codec (``numcodecs.GZip(4)``, ``numcodecs.Blosc()`` ...), or None.
    compression, compression_opts
        h5py-style alternatives: ``"gzip"`` with a level, ``"zlib"``, ``"blosc"``, ``"zstd"``, ``"lz4"``.
    shuffle
        Apply the byte-shuffle filter before compression.
    fillvalue
        Value of unwritten elements.
    link_data
        For data read from another LINDI file: link to it instead of copying.
    shape, dtype
        For ``data=None``.
    """

    def __init__(
        self,
        data: Any = None,
        *,
        chunks: tuple[int, ...] | None = None,
        compressor: Codec | None = None,
        compression: Any = None,
        compression_opts: Any = None,
        shuffle: bool = False,
        fillvalue: Any = None,
        link_data: bool = False,
        shape: tuple[int, ...] | None = None,
        dtype: Any = None,
    ) -> None:
        if compressor is not None and compression is not None:
            raise ValueError("Give either compressor= (a numcodecs codec) or compression=, not both.")
        if compressor is not None and not isinstance(compressor, Codec):
            raise TypeError(f"compressor must be a numcodecs codec, got {type(compressor).__name__}.")
        super().__init__(data=data, shape=shape, dtype=dtype)
        self.chunks = tuple(chunks) if chunks is not None else None
        self.compressor = compressor
        self.compression = compression
        self.compression_opts = compression_opts
        self.shuffle = shuffle
        self.fillvalue = fillvalue
        self._link_data = link_data

    @property
    def link_data(self) -> bool:
        """Whether to link to data read from another LINDI file instead of copying it."""
        return self._link_data

    @property
    def io_settings(self) -> dict[str, Any]:
        """The settings, as a dict (like ``H5DataIO.io_settings``)."""
        return {
            "chunks": self.chunks,
            "compressor": self.compressor,
            "compression": self.compression,
            "compression_opts": self.compression_opts,
            "shuffle": self.shuffle,
            "fillvalue": self.fillvalue,
        }


def settings_from_dataio(dataio: DataIO) -> StorageSettings:
    """Map a ``DataIO`` (ours, ``H5DataIO``, or another) to storage settings.

    ``H5DataIO``'s chunks, gzip level, shuffle and fill value are kept; ``fletcher32`` and
    ``maxshape`` have no LINDI meaning (every LINDI dataset can grow) and are dropped; ``lzf`` and
    ``szip`` have no numcodecs codec and raise. Settings of other ``DataIO`` classes (e.g.
    hdmf-zarr's ``ZarrDataIO``) are ignored with a log message.

    Raises
    ------
    UnsupportedError
        For a compression LINDI cannot store.
    """
    out = StorageSettings()
    shape = getattr(dataio, "_DataIO__shape", None)
    dtype = getattr(dataio, "_DataIO__dtype", None)
    out.shape = tuple(shape) if shape is not None else None
    out.dtype = dtype
    if isinstance(dataio, LindiDataIO):
        out.chunks = dataio.chunks
        out.compressor = dataio.compressor
        out.compression = dataio.compression
        out.compression_opts = dataio.compression_opts
        out.shuffle = dataio.shuffle
        out.fillvalue = dataio.fillvalue
        out.link_data = dataio.link_data
        return out
    settings = getattr(dataio, "io_settings", None)
    if type(dataio).__name__ == "H5DataIO" and isinstance(settings, dict):
        chunks = settings.get("chunks")
        out.chunks = tuple(chunks) if isinstance(chunks, tuple | list) else None
        compression = settings.get("compression")
        if compression is True:
            compression = "gzip"
        if compression in ("lzf", "szip") or (isinstance(compression, int) and compression > 9):
            raise UnsupportedError(
                f"H5DataIO compression {compression!r} has no numcodecs codec; use 'gzip' (or LindiDataIO "
                "with a numcodecs codec) to write LINDI."
            )
        out.compression = compression
        out.compression_opts = settings.get("compression_opts")
        out.shuffle = bool(settings.get("shuffle", False))
        out.fillvalue = settings.get("fillvalue")
        out.link_data = bool(getattr(dataio, "link_data", False))
        return out
    if settings:
        logger.info("Ignoring the storage settings of %s for a LINDI file", type(dataio).__name__)
    return out
