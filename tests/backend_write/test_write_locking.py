"""NWBLindiIO and LindiIO take the writers' lock in every write mode; readers are not blocked."""

from __future__ import annotations

from pathlib import Path

import pytest
from pynwb.testing.mock.file import mock_NWBFile

from hdmf_lindi import NWBLindiIO
from hdmf_lindi.errors import FileLockedError


@pytest.mark.parametrize("suffix", [".lindi.tar", ".lindi.json"])
def test_nwb_writers_exclude_each_other(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"s{suffix}"
    with NWBLindiIO(path, "w") as io:
        io.write(mock_NWBFile(session_description="locked"))
    with NWBLindiIO(path, "a") as io:
        with pytest.raises(FileLockedError) as info:
            NWBLindiIO(path, "a")
        assert str(path) in str(info.value)
        with pytest.raises(FileLockedError):
            NWBLindiIO(path, "r+", load_namespaces=False, lock_timeout=0.1)
        with NWBLindiIO(path, "r") as reader:  # readers are never blocked
            assert reader.read().session_description == "locked"
        with NWBLindiIO(path, "a", locking=False) as other:  # opting out
            assert other.read().session_description == "locked"
        nwbfile = io.read()
        nwbfile.add_trial(start_time=0.0, stop_time=1.0)
        io.write(nwbfile)
    with NWBLindiIO(path, "a") as io:  # released by close
        assert len(io.read().trials) == 1
