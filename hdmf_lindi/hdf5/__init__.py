"""Turn HDF5 files into chunk references without copying data (and read external array links)."""
