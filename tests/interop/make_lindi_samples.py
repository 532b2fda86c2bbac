"""Write the files lindi 0.4.6 produces that the suite reads as compatibility fixtures.

Run by the python of the lindi environment (``lindi_env.py``), never by the suite's own python
(lindi needs zarr 2): ``python make_lindi_samples.py OUTDIR``. ``tests/lindi_samples.py`` runs it
once per checkout and caches the folder; the cache key includes this file's bytes, so any edit
here makes a new set. The files:

``features.h5``
    An HDF5 file made with h5py covering what the converter meets: attributes of every kind
    (text, bytes, int, float, NaN/+-Inf, bool, arrays, empty and 2-D arrays, object
    references), scalar datasets (int, float32, bool, vlen UTF-8 and ASCII text, fixed text),
    vlen and fixed string arrays, a bool array, empty datasets (contiguous and chunked), 1200
    contiguous float64, shuffle+gzip chunks with fill value -1, fletcher32, a partly allocated
    chunked array with a NaN fill, a dataset of 6 chunks, a compound with a reference field, a
    reference array, and soft links to a group and to a dataset.
``features.lindi.json``
    lindi's conversion of it (``url="features.h5"``, at most 4 chunk references per dataset,
    contiguous data split at 4000 bytes): pseudo-chunks with a short last one, an
    ``_EXTERNAL_ARRAY_LINK``, a ``{{u1}}`` template, ``version: 1`` and ``generationMetadata``.
    The chunk references name ``features.h5`` relative to the working directory (lindi's rule).
``written.lindi.json`` / ``written.lindi.tar`` / ``written.lindi.d``
    The same small tree written from scratch through lindi's h5py-like API (mode ``w``), then
    reopened in mode ``a`` to overwrite the first chunk of ``rand``: in the tar and directory
    forms that leaves ``blobs/rand/0.v2`` beside an orphaned ``blobs/rand/0``.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from pathlib import Path

import h5py
import lindi
import numpy as np

LINDI_VERSION = "0.4.6"
WRITTEN = ("written.lindi.json", "written.lindi.tar", "written.lindi.d")


def write_features_h5(path: Path) -> None:
    """The HDF5 input of lindi's converter (see the module docstring)."""
    with h5py.File(path, "w") as f:
        a = f.attrs
        a["object_id"] = "root-oid"
        a["a_str"] = "hello"
        a["a_bytes"] = np.bytes_(b"bytes-val")
        a["a_int"] = 7
        a["a_float"] = 3.5
        a["a_nan"] = np.nan
        a["a_inf"] = np.inf
        a["a_ninf"] = -np.inf
        a["a_bool"] = True
        a["a_arr_int16"] = np.array([1, 2, 3], dtype="int16")
        a["a_arr_float"] = np.array([1.5, np.nan, np.inf])
        a["a_arr_bool"] = np.array([True, False])
        a["a_arr_vlen_str"] = np.array(["x", "yy"], dtype=h5py.string_dtype())
        a["a_arr_fixed_str"] = np.array([b"ab", b"c"], dtype="S2")
        a["a_2d"] = np.array([[1, 2], [3, 4]])
        a["a_empty_float_arr"] = np.array([], dtype="float64")
        grp = f.create_group("grp")
        grp.attrs["object_id"] = "grp-oid"
        small = grp.create_dataset("small_int", data=np.arange(10, dtype="int32"))
        small.attrs["object_id"] = "small-oid"
        a["a_ref"] = grp.ref
        grp.attrs["ref_to_ds"] = small.ref

        f.create_dataset("scalar_int", data=42)
        f.create_dataset("scalar_float32", data=np.float32(1.25))
        f.create_dataset("scalar_bool", data=np.bool_(True))
        f.create_dataset("scalar_vlen_utf8", data="h\u00e9llo", dtype=h5py.string_dtype())
        f.create_dataset("scalar_vlen_ascii", data=b"ascii-val", dtype=h5py.string_dtype("ascii"))
        f.create_dataset("scalar_fixed_str", data=np.bytes_(b"fixed"))
        f.create_dataset("vlen_str_arr", data=["a", "bb", "ccc"], dtype=h5py.string_dtype())
        f.create_dataset("fixed_str_arr", data=np.array([b"ab", b"cde"], dtype="S3"))
        f.create_dataset("bool_arr", data=np.array([True, False, True]))
        f.create_dataset("empty_contig", shape=(0,), dtype="float64")
        f.create_dataset("empty_chunked", shape=(0, 3), dtype="int32", chunks=(4, 3), maxshape=(None, 3))
        # 9600 contiguous bytes: split into 4000-byte pseudo-chunks, the last one short
        f.create_dataset("contig_split", data=np.arange(1200, dtype="float64"))
        # 4 chunks of 20x20 int32, shuffle + gzip 5, fill value -1
        f.create_dataset(
            "chunked_gzip_shuffle", data=np.arange(1600, dtype="int32").reshape(40, 40), chunks=(20, 20),
            compression="gzip", compression_opts=5, shuffle=True, fillvalue=-1,
        )
        f.create_dataset("chunked_fletcher32", data=np.arange(3000, dtype="int16"), chunks=(1000,), fletcher32=True)
        # 3 chunks of 500 float32, only the first written, NaN fill value
        partial = f.create_dataset("chunked_partial_nan", shape=(1200,), dtype="float32", chunks=(500,), fillvalue=np.nan)
        partial[0:500] = 1.0
        # 6 chunks: over the threshold of 4 below, so lindi writes an _EXTERNAL_ARRAY_LINK
        f.create_dataset("many_chunks", data=np.arange(1002, dtype="int16"), chunks=(200,))
        compound_type = np.dtype([("x", "int32"), ("y", "float64"), ("r", h5py.ref_dtype), ("s", "S5")])
        compound = np.zeros(2, dtype=compound_type)
        compound[0] = (1, 2.5, grp.ref, b"hi")
        compound[1] = (3, 4.5, small.ref, b"yo")
        f.create_dataset("compound", data=compound)
        f.create_dataset("ref_arr", data=np.array([grp.ref, small.ref], dtype=h5py.ref_dtype))
        f["soft_grp"] = h5py.SoftLink("/grp")
        f["soft_ds"] = h5py.SoftLink("/grp/small_int")


def convert_features(h5_name: str, out_name: str) -> None:
    """lindi's HDF5 -> .lindi.json conversion, with small thresholds to show every feature."""
    opts = lindi.LindiH5ZarrStoreOpts(num_dataset_chunks_threshold=4, contiguous_dataset_max_chunk_size=4000)
    converted = lindi.LindiH5pyFile.from_hdf5_file(h5_name, url=h5_name, zarr_store_opts=opts)
    converted.write_lindi_file(out_name, generation_metadata={"generatedBy": "make_lindi_samples.py"})
    converted.close()


def write_from_scratch(name: str) -> None:
    """A small tree through lindi's h5py-like API, then one chunk overwritten in mode ``a``."""
    with lindi.LindiH5pyFile.from_lindi_file(name, mode="w") as f:
        f.attrs["title"] = "written by lindi"
        f.attrs["nan_attr"] = float("nan")
        g = f.create_group("g")
        # 2 chunks of random float64, ~4.4 KB each after blosc: blobs in the tar and dir forms
        f.create_dataset("rand", data=np.random.RandomState(0).rand(1200), chunks=(600,))
        f.create_dataset("small", data=np.arange(10, dtype="int16"))  # small: always inline
        g.create_dataset("strs", data=np.array(["a", "b"], dtype=object))
        f.create_dataset("scalar", data=3.5)
        f.create_group("h")["link"] = h5py.SoftLink("/g")
    with lindi.LindiH5pyFile.from_lindi_file(name, mode="a") as f:
        f["rand"][0:600] = np.random.RandomState(1).rand(600)


def main(outdir: Path) -> None:
    found = importlib.metadata.version("lindi")
    if found != LINDI_VERSION:
        raise SystemExit(f"these samples are lindi {LINDI_VERSION}'s; this python has lindi {found}")
    outdir.mkdir(parents=True, exist_ok=True)
    os.chdir(outdir)  # lindi resolves the relative url "features.h5" against the working directory
    write_features_h5(Path("features.h5"))
    convert_features("features.h5", "features.lindi.json")
    for name in WRITTEN:
        write_from_scratch(name)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: make_lindi_samples.py OUTDIR")
    main(Path(sys.argv[1]).resolve())
