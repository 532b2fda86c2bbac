"""Closed files raise on use, as in h5py (checked against h5py on the same operations).

After ``close()`` or the end of a ``with`` block, reading data, listing or opening members and
reading or writing attributes raise :class:`ClosedFileError`, which is also the ``ValueError`` /
``KeyError`` / ``RuntimeError`` h5py raises for each; ``in`` is False and ``get`` gives None, as
in h5py. Metadata read while the file was open (shape, dtype, name) stays available, as h5py
caches it for read-only files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from hdmf_lindi import File
from hdmf_lindi.errors import ClosedFileError, ModeError

FORMS = ["x.lindi.json", "x.lindi.tar", "x.lindi.d"]

# operation -> what it does on (file, group, dataset); each raises on a closed h5py file too
RAISING: dict[str, Callable[[Any, Any, Any], Any]] = {
    "keys": lambda f, g, d: list(f.keys()),
    "len": lambda f, g, d: len(f),
    "iter": lambda f, g, d: list(f),
    "group keys": lambda f, g, d: list(g.keys()),
    "getitem": lambda f, g, d: f["x"],
    "getitem path": lambda f, g, d: f["g/y"],
    "attrs read": lambda f, g, d: f.attrs["a"],
    "attrs keys": lambda f, g, d: list(f.attrs.keys()),
    "dataset attrs": lambda f, g, d: d.attrs["b"],
    "read all": lambda f, g, d: d[...],
    "read one": lambda f, g, d: d[0],
    "read slice": lambda f, g, d: d[1:3],
    "asarray": lambda f, g, d: np.asarray(d),
    "write": lambda f, g, d: d.__setitem__(0, 1),
    "resize": lambda f, g, d: d.resize((6,)),
    "create_group": lambda f, g, d: f.create_group("h"),
    "create_dataset": lambda f, g, d: g.create_dataset("z", data=[1]),
    "set attr": lambda f, g, d: f.attrs.__setitem__("c", 1),
    "delete": lambda f, g, d: f.__delitem__("x"),
}


def _make(path: Path) -> None:
    with File(path, "w") as f:
        d = f.create_dataset("x", data=np.arange(5))
        f.create_group("g").create_dataset("y", data=[1.0, 2.0])
        f.attrs["a"] = 1
        d.attrs["b"] = 2


def _h5py_errors(tmp_path: Path) -> dict[str, type[BaseException]]:
    """The exception class h5py raises for each operation on a closed file."""
    with h5py.File(tmp_path / "x.h5", "w") as f:
        d = f.create_dataset("x", data=np.arange(5), maxshape=(None,))
        f.create_group("g").create_dataset("y", data=[1.0, 2.0])
        f.attrs["a"] = 1
        d.attrs["b"] = 2
    f = h5py.File(tmp_path / "x.h5", "a")
    g, d = f["g"], f["x"]
    f.close()
    out: dict[str, type[BaseException]] = {}
    for name, op in RAISING.items():
        with pytest.raises(Exception) as info:
            op(f, g, d)
        out[name] = type(info.value)
    assert "x" not in f and f.get("x") is None
    return out


@pytest.mark.parametrize("name", FORMS)
def test_closed_file_raises_like_h5py(tmp_path: Path, name: str) -> None:
    h5py_errors = _h5py_errors(tmp_path)
    path = tmp_path / name
    _make(path)
    with File(path, "r+") as f:
        g, d = f["g"], f["x"]
        assert d.shape == (5,)
    assert f.closed and not f
    for op_name, op in RAISING.items():
        with pytest.raises(ClosedFileError, match="is closed") as info:
            op(f, g, d)
        assert isinstance(info.value, h5py_errors[op_name]), (op_name, h5py_errors[op_name])
        assert isinstance(info.value, ModeError)
    assert "x" not in f and f.get("x") is None  # as h5py
    assert d.shape == (5,) and d.dtype == np.dtype("int64") and d.name == "/x"
    assert repr(d) == "<Closed LINDI dataset>" and repr(g) == "<Closed LINDI group>"
    assert "closed" in repr(f)
    f.close()  # twice is fine
    with File(path) as again:  # the file itself is intact
        np.testing.assert_array_equal(again["x"][...], np.arange(5))


def test_flush_after_close_raises(tmp_path: Path) -> None:
    f = File(tmp_path / "x.lindi.tar", "w")
    f.close()
    with pytest.raises(ClosedFileError):
        f.flush()


def test_discard_keeps_the_last_flushed_state(tmp_path: Path) -> None:
    path = tmp_path / "x.lindi.tar"
    _make(path)
    f = File(path, "a")
    f.create_dataset("new", data=np.arange(3000))
    f.discard()
    with pytest.raises(ClosedFileError):
        f.keys()
    with File(path) as f:
        assert sorted(f.keys()) == ["g", "x"]
    fresh = File(tmp_path / "new.lindi.tar", "w")
    fresh.create_dataset("x", data=np.arange(3000))
    fresh.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.lindi.tar"]  # no new file, no temp file
