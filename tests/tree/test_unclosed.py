"""Files nobody closed: flushed when dropped or at interpreter exit (as h5py does), else warned about.

* ``test_exit_without_close_keeps_the_data`` -- one child process writes to every form (json,
  tar, dir) in modes ``w`` and ``a`` and exits without ``close()``; the data is there afterwards
  and no hidden temporary file is left beside it.
* ``test_dropped_file_is_flushed`` -- form x mode, in this process: ``del f; gc.collect()``
  publishes the changes; a dataset that outlives its File keeps the file open until it goes too.
* ``test_failed_flush_at_exit_warns`` / ``test_failed_flush_on_drop_warns`` -- a flush that cannot
  succeed (a directory now occupies the file's name) emits a LindiWarning naming the file, also
  when warnings are errors; the temporary file is removed in every case.
* ``test_dropped_writer_releases_its_lock`` -- the writers' lock is released with the dropped file.
* ``test_forked_child_does_not_flush`` -- a child forked while the file is open exits without
  touching it.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hdmf_lindi import File
from hdmf_lindi.errors import LindiWarning

FORMS = {"json": "x.lindi.json", "tar": "x.lindi.tar", "dir": "x.lindi.d"}
DATA = np.arange(3000, dtype="<i4")  # > 1000 bytes: a blob in tar/dir, inline in json


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _hidden(directory: Path) -> list[str]:
    """Hidden entries beside the files: temporary files or directories a writer left behind."""
    return sorted(p.name for p in directory.rglob(".*") if ".lindi." in p.name and p.parent == directory)


def _prepare_old(path: Path) -> None:
    with File(path, "w") as f:
        f.create_dataset("old", data=[1, 2, 3])


def test_exit_without_close_keeps_the_data(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "a").mkdir()
    for name in FORMS.values():
        _prepare_old(tmp_path / "a" / name)
    result = _run(
        f"""
        import numpy as np
        import hdmf_lindi
        keep = []
        for name in {list(FORMS.values())!r}:
            for mode in ("w", "a"):
                f = hdmf_lindi.File(mode + "/" + name, mode)
                f.create_dataset("new", data=np.arange(3000, dtype="<i4"))
                f["new"].attrs["unit"] = "s"
                keep.append(f)  # still open when the interpreter exits
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    for mode in ("w", "a"):
        for name in FORMS.values():
            with File(tmp_path / mode / name) as f:
                assert sorted(f.keys()) == (["new", "old"] if mode == "a" else ["new"])
                np.testing.assert_array_equal(f["new"][...], DATA)
                assert f["new"].attrs["unit"] == "s"
                if mode == "a":
                    np.testing.assert_array_equal(f["old"][...], [1, 2, 3])
        assert _hidden(tmp_path / mode) == []


@pytest.mark.parametrize("mode", ["w", "a"])
@pytest.mark.parametrize("form", list(FORMS))
def test_dropped_file_is_flushed(tmp_path: Path, form: str, mode: str) -> None:
    path = tmp_path / FORMS[form]
    if mode == "a":
        _prepare_old(path)
    f = File(path, mode)
    f.create_dataset("new", data=DATA)
    ds = f["new"]
    del f
    gc.collect()
    assert ds.file.filename == str(path)  # the dataset keeps the file open, with a new File object
    ds[0] = -1
    del ds
    gc.collect()
    assert _hidden(tmp_path) == []
    with File(path) as f:
        expected = DATA.copy()
        expected[0] = -1
        np.testing.assert_array_equal(f["new"][...], expected)
        assert ("old" in f) == (mode == "a")


def test_dropped_file_is_flushed_without_gc(tmp_path: Path) -> None:
    """No reference cycle keeps a file alive: dropping the last reference flushes at once."""
    path = tmp_path / FORMS["tar"]
    f = File(path, "w")
    f.create_group("g").create_dataset("x", data=DATA)
    f.attrs["a"] = 1
    assert not path.exists()
    del f
    assert path.exists() and _hidden(tmp_path) == []


_FAILING = """
    import os, warnings
    import numpy as np
    import hdmf_lindi
    from hdmf_lindi.errors import LindiWarning
    {filter}
    keep = []
    for name in ("x.lindi.json", "x.lindi.tar"):
        f = hdmf_lindi.File(name, "w")
        f.create_dataset("new", data=np.arange(3000, dtype="<i4"))
        os.makedirs(os.path.join(name, "occupied"))  # the flush at exit cannot replace it
        keep.append(f)
"""


@pytest.mark.parametrize("as_error", [False, True], ids=["default", "warnings-are-errors"])
def test_failed_flush_at_exit_warns(tmp_path: Path, as_error: bool) -> None:
    flt = 'warnings.simplefilter("error", LindiWarning)' if as_error else ""
    result = _run(_FAILING.format(filter=flt), tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("x.lindi.json", "x.lindi.tar"):
        assert f"LindiWarning: {name} was not closed, and flushing it" in result.stderr, result.stderr
        assert (tmp_path / name / "occupied").is_dir()  # nothing else was touched
    if as_error:
        assert "Traceback" in result.stderr  # raised in the exit hook, reported, not swallowed
    assert _hidden(tmp_path) == []


def test_failed_flush_on_drop_warns(tmp_path: Path) -> None:
    path = tmp_path / FORMS["tar"]
    f = File(path, "w")
    f.create_dataset("new", data=DATA)
    path.mkdir()
    (path / "occupied").mkdir()
    with pytest.warns(LindiWarning, match=r"x\.lindi\.tar was not closed.*IsADirectoryError"):
        del f
        gc.collect()
    assert _hidden(tmp_path) == []
    assert sorted(os.listdir(path)) == ["occupied"]


def test_forked_child_does_not_flush(tmp_path: Path) -> None:
    path = tmp_path / FORMS["json"]
    _prepare_old(path)
    before = path.read_bytes()
    result = _run(
        f"""
        import os, sys
        import hdmf_lindi
        f = hdmf_lindi.File({str(path)!r}, "a")
        f.create_dataset("child", data=[1])
        pid = os.fork()
        if pid == 0:
            sys.exit(0)  # a normal exit runs the exit hooks in the child too
        os.waitpid(pid, 0)
        print(open({str(path)!r}, "rb").read() == {before!r})
        f.close()
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
    with File(path) as f:
        assert sorted(f.keys()) == ["child", "old"]


def test_dropped_writer_releases_its_lock(tmp_path: Path) -> None:
    """The writers' lock goes with the dropped file: the next writer opens at once."""
    path = tmp_path / FORMS["tar"]
    _prepare_old(path)
    f = File(path, "a")
    f.create_dataset("first", data=[1])
    del f
    with File(path, "a", lock_timeout=0) as f:
        f.create_dataset("second", data=[2])
    with File(path) as f:
        assert sorted(f.keys()) == ["first", "old", "second"]
    assert _hidden(tmp_path) == []  # no temp file, no lock sidecar
