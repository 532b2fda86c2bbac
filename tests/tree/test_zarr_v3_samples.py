"""zindi's and hdmf-zarr's Zarr v3 documents (tests/fixtures) read through ``hdmf_lindi.File``.

zindi's documents must read equal to the HDF5 files they index, read by h5py: every dataset's
values, dtype and shape, every attribute, every soft link and every reference target. The only
difference allowed is the one the convention itself makes: fixed-length byte strings become
variable-length text (layout §3.7), so they compare as text.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from httpserver import RangeServer

from hdmf_lindi import File
from hdmf_lindi.format.references import Reference

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ZINDI = [
    ("zarr-v3-samples/features.zindi.json", "lindi-samples/features.h5"),
    ("zarr-v3-samples/zindi_mock.zindi.json", "zarr-v3-samples/zindi_mock.nwb"),
]


def _text(value: Any) -> Any:
    return value.decode("utf-8") if isinstance(value, bytes | np.bytes_) else value


def _deref(h5: h5py.File, value: Any) -> Any:
    """An h5py value with references replaced by their targets' names (None for null)."""
    if isinstance(value, h5py.Reference):
        return h5[value].name if value else None
    return _text(value)


def _ours(value: Any) -> Any:
    if isinstance(value, Reference):
        return value.path
    return _text(value)


def _same_values(h5: h5py.File, expected: Any, actual: Any, where: str) -> None:
    if isinstance(expected, np.ndarray) and expected.dtype.names:
        assert actual.dtype.names == expected.dtype.names, where
        for name in expected.dtype.names:
            _same_values(h5, expected[name], actual[name], f"{where}[{name}]")
        return
    if isinstance(expected, np.ndarray) and expected.dtype.kind in "OSU":
        assert np.shape(actual) == expected.shape, where
        assert [_deref(h5, v) for v in expected.reshape(-1)] == [_ours(v) for v in np.asarray(actual).reshape(-1)], where
        return
    if isinstance(expected, np.void):  # a 0-d compound
        assert [_deref(h5, v) for v in expected.tolist()] == [_ours(v) for v in actual.tolist()], where
        return
    if isinstance(expected, bytes | str | h5py.Reference):
        assert _deref(h5, expected) == _ours(actual), where
        return
    np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected), err_msg=where)
    assert np.asarray(actual).dtype.kind == np.asarray(expected).dtype.kind, where


def _same_dtype(expected: np.dtype[Any], actual: np.dtype[Any], where: str, *, field: bool = False) -> None:
    if expected.names:
        assert actual.names == expected.names, where
        for name in expected.names:
            _same_dtype(expected[name], actual[name], f"{where}[{name}]", field=True)
    elif field and expected.kind == "S":
        assert actual == expected, where  # null_terminated_bytes keeps the width in compounds
    elif h5py.check_string_dtype(expected) is not None or expected.kind == "S" and expected.itemsize > 1:
        assert actual.kind == "O" and h5py.check_string_dtype(actual) is not None, where  # text (width lost)
    elif h5py.check_ref_dtype(expected) is not None:
        assert h5py.check_ref_dtype(actual) is not None or actual.kind == "O" and "ref" in (actual.metadata or {}), where
    else:
        assert actual == expected, where


def _compare_attrs(h5: h5py.File, expected: Any, actual: Any, where: str) -> None:
    assert sorted(actual.attrs) == sorted(expected.attrs), where
    for name, value in expected.attrs.items():
        _same_values(h5, value, actual.attrs[name], f"{where} attribute {name!r}")


def _compare_tree(h5: h5py.File, ours: File) -> int:
    """Compare everything h5py sees; return the number of objects compared."""
    seen = 0

    def visit(name: str, node: Any) -> None:
        nonlocal seen
        seen += 1
        mine = ours[name]
        _compare_attrs(h5, node, mine, name)
        if isinstance(node, h5py.Dataset):
            assert mine.shape == node.shape, name
            _same_dtype(node.dtype, mine.dtype, name)
            _same_values(h5, node[()], mine[()], name)
        else:
            assert sorted(mine.keys()) == sorted(node.keys()), name
            for key in node:
                link = node.get(key, getlink=True)
                if isinstance(link, h5py.SoftLink):
                    assert mine.get(key, getlink=True).path == link.path, f"{name}/{key}"

    _compare_attrs(h5, h5, ours, "/")
    assert sorted(ours.keys()) == sorted(h5.keys())
    h5.visititems(visit)
    return seen


@pytest.mark.parametrize(("document", "hdf5"), ZINDI)
def test_zindi_document_reads_equal_to_its_hdf5(document: str, hdf5: str) -> None:
    with h5py.File(FIXTURES / hdf5, "r") as h5, File(FIXTURES / document) as ours:
        assert _compare_tree(h5, ours) >= 20
        assert ours._state.dialect == "zarr3"


def test_features_specifics() -> None:
    """Spot checks of what the generic comparison could miss."""
    with File(FIXTURES / "zarr-v3-samples/features.zindi.json") as f:
        assert np.isnan(f.attrs["a_nan"]) and f.attrs["a_inf"] == np.inf  # zindi's NaN strings
        assert f["chunked_gzip_shuffle"].compression == "zlib"
        values = f["chunked_partial_nan"][()]
        assert np.isnan(values[-1]) and values[0] == 1.0  # unallocated chunks read the NaN fill
        assert f[f["ref_arr"][1]].name == "/grp/small_int"
        assert sorted(f["soft_grp"].keys()) == ["small_int"]


def test_nwb_tables_rfs_reads_hdmf_zarr_attributes() -> None:
    with File(FIXTURES / "zarr-v3-samples/nwb_tables.rfs.json") as f:
        assert f.attrs["neurodata_type"] == "NWBFile"
        assert f.attrs[".specloc"].path == "/specifications"
        z = f["general/extracellular_ephys/electrodes/z"]
        assert "_ARRAY_DIMENSIONS" not in z.attrs and "_DTYPE" not in z.attrs
        group = f["general/extracellular_ephys/electrodes/group"][()]
        assert all(f[r].name == "/general/extracellular_ephys/shank0" for r in group)
        assert f["identifier"].shape == () and f["identifier"][()] == "nwb-tables"


@pytest.mark.parametrize("name", ["nwb_tables.rfs.json", "zindi_mock.zindi.json"])
def test_remote_document_opens_in_one_request(http_server: RangeServer, name: str) -> None:
    for file in ("nwb_tables.rfs.json", "zindi_mock.zindi.json", "zindi_mock.nwb"):
        shutil.copy(FIXTURES / "zarr-v3-samples" / file, http_server.root / file)
    http_server.reset()
    with File(http_server.url(name)) as f:
        assert f._state.dialect == "zarr3"
        assert [r.path for r in http_server.requests] == ["/" + name]
        keys = sorted(f.keys())
    with File(FIXTURES / "zarr-v3-samples" / name) as local:
        assert keys == sorted(local.keys())


def test_remote_zindi_chunks_come_from_the_hdf5_beside_it(http_server: RangeServer) -> None:
    for file in ("zindi_mock.zindi.json", "zindi_mock.nwb"):
        shutil.copy(FIXTURES / "zarr-v3-samples" / file, http_server.root / file)
    with File(http_server.url("zindi_mock.zindi.json")) as f, h5py.File(FIXTURES / "zarr-v3-samples/zindi_mock.nwb") as h5:
        path = "acquisition/es/data"  # gzip + shuffle chunks of 500 x 4
        np.testing.assert_array_equal(f[path][400:1300], h5[path][400:1300])
        assert any(r.path == "/zindi_mock.nwb" for r in http_server.requests)


@pytest.mark.parametrize("name", ["v3.lindi.tar", "v3.lindi.d"])
def test_v3_keys_in_tar_and_dir_containers(tmp_path: Path, name: str) -> None:
    """The LINDI containers are generic: a v3 document inside a .lindi.tar / .lindi.d reads too."""
    import json

    from hdmf_lindi.storage import open_container
    from hdmf_lindi.storage.refmap import ReferenceMap

    doc = json.loads((FIXTURES / "zarr-v3-samples/nwb_tables.rfs.json").read_text())
    location = str(tmp_path / name)
    container = open_container(location, "w")
    container.refmap = ReferenceMap.from_dict(doc, source=location)
    container.refmap.dirty = True
    container.close()
    with File(location) as f, File(FIXTURES / "zarr-v3-samples/nwb_tables.rfs.json") as g:
        assert f._state.dialect == "zarr3"
        assert f["identifier"][()] == "nwb-tables"
        column = "general/extracellular_ephys/electrodes/location"
        assert f[column][()].tolist() == g[column][()].tolist()
