"""Open a location as a :class:`~hdmf_lindi.File`: a LINDI file as it is, an HDF5 file as an index.

The one place that decides how a path or URL becomes a ``File`` when it may name either kind:
``LindiIO``/``NWBLindiIO`` opening their ``path``, and external links followed on read.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import ModeError, UnsupportedError
from ..storage import RemoteOptions, is_hdf5, is_url
from ..storage.locking import Locking
from .file import File

__all__ = ["as_lindi_file", "open_lindi_or_hdf5"]


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


def as_lindi_file(
    file: Any, mode: str = "r", options: RemoteOptions | None = None, allow_local_paths: bool | None = None
) -> File | None:
    """The :class:`File` to use for a ``file=`` argument: a ``File`` as it is, an open ``h5py.File``
    indexed in memory (read-only; the h5py file itself is not touched), None for None.

    ``NWBHDF5IO(file=h5py.File(...))`` code therefore runs with ``NWBLindiIO``: the data are
    read through the index, straight from the HDF5 file.

    Raises
    ------
    ModeError
        For an ``h5py.File`` with a writable ``mode``, or one open for writing, or closed.
    UnsupportedError
        For an ``h5py.File`` not backed by a file on disk, or any other kind of object.
    """
    if file is None or isinstance(file, File):
        return file
    if type(file).__module__.split(".")[0] == "h5py" and hasattr(file, "filename"):
        if not file:
            raise ModeError("The h5py.File given as file= is closed; pass an open file, or its path.")
        name = file.filename
        if mode != "r":
            raise ModeError(
                f"An h5py.File ({name}) opens read-only, through an in-memory LINDI index: use mode "
                f"'r', not {mode!r}. To write HDF5 use NWBHDF5IO; to write LINDI, give a "
                ".lindi.json/.lindi.tar/.lindi.d path."
            )
        if file.mode != "r":
            raise ModeError(
                f"The h5py.File {name} is open for writing (mode {file.mode!r}), so its chunks may "
                "still move. Close it and pass h5py.File(name, 'r'), or the path itself."
            )
        if not os.path.isfile(name):
            raise UnsupportedError(
                f"The h5py.File {name!r} is not backed by a file on disk (a file object or an "
                "in-memory driver), so it cannot be indexed. Pass its path or URL instead."
            )
        return open_lindi_or_hdf5(name, "r", options, allow_local_paths)
    raise UnsupportedError(
        f"file= takes an open hdmf_lindi.File or h5py.File, not {type(file).__name__}. Pass a "
        "path or URL as the first argument instead."
    )
