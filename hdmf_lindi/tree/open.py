"""Open a location as a :class:`~hdmf_lindi.File`: a LINDI file as it is, an HDF5 file as an index.

The one place that decides how a path or URL becomes a ``File`` when it may name either kind:
``LindiIO``/``NWBLindiIO`` opening their ``path``, and external links followed on read.
"""

from __future__ import annotations

import os

from ..errors import ModeError
from ..storage import RemoteOptions, is_hdf5, is_url
from ..storage.locking import Locking
from .file import File

__all__ = ["open_lindi_or_hdf5"]


def open_lindi_or_hdf5(
    location: str,
    mode: str = "r",
    options: RemoteOptions | None = None,
    allow_local_paths: bool | None = None,
    *,
    locking: Locking = None,
    lock_timeout: float = 0.0,
) -> File:
    """Open a LINDI file, or index an HDF5 file in memory (nothing copied) and open the index.

    Raises
    ------
    ModeError
        For an HDF5 file in a mode other than ``r`` (an index is read-only), and as
        :class:`File` raises.
    IndexingError
        If an HDF5 file cannot be indexed.
    """
    location = os.fspath(location)
    if location.startswith("dandi://"):
        from .dandi_open import open_dandi  # resolved through the DANDI API (see there)

        return open_dandi(location, mode, options)
    if not is_hdf5(location):
        return File(
            location, mode, options=options, allow_local_paths=allow_local_paths,
            locking=locking, lock_timeout=lock_timeout,
        )
    if mode != "r":
        raise ModeError(
            f"{location} is an HDF5 file; it opens read-only (mode 'r'), got {mode!r}. "
            "Use NWBHDF5IO or h5py to modify it, or write a LINDI file."
        )
    from ..hdf5 import IndexOptions, index_hdf5  # h5py only when an HDF5 file is opened

    refmap = index_hdf5(location, options=IndexOptions(remote=options))
    if allow_local_paths is None:
        allow_local_paths = not is_url(location)
    return File(refmap, options=options, allow_local_paths=allow_local_paths)
