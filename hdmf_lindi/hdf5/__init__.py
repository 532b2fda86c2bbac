"""Turn HDF5 files into chunk references without copying data (and read external array links)."""

from .indexer import IndexOptions, index_hdf5, save_refmap

__all__ = ["IndexOptions", "index_hdf5", "save_refmap"]
