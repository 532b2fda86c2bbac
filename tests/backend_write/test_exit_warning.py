"""LindiIO warns that unflushed changes are discarded only when there were some."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pynwb.testing.mock.file import mock_NWBFile
from write_corpus import FORMS, SUFFIX

from hdmf_lindi import NWBLindiIO, read_nwb

DISCARDED = "are discarded"


class _Boom(Exception):
    pass


def _discard_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hdmf_lindi.backend.io" and DISCARDED in r.getMessage()]


@pytest.fixture(params=FORMS)
def written(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / f"f{SUFFIX[request.param]}"
    nwbfile = mock_NWBFile()
    nwbfile.add_trial(start_time=0.0, stop_time=0.5)
    with NWBLindiIO(path, "w") as io:
        io.write(nwbfile)
    return path


def test_no_warning_without_changes(written: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hdmf_lindi"):
        with pytest.raises(_Boom), NWBLindiIO(written, "a") as io:
            io.read()
            raise _Boom
        with NWBLindiIO(written, "a") as io:
            io.read()
    assert _discard_warnings(caplog) == []


def test_warning_with_changes(written: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hdmf_lindi"):
        with pytest.raises(_Boom), NWBLindiIO(written, "a") as io:
            io.read().add_trial(start_time=1.0, stop_time=1.5)
            raise _Boom
    assert len(_discard_warnings(caplog)) == 1
    nwbfile = read_nwb(written)
    try:
        assert len(nwbfile.trials) == 1  # the added row was discarded, as the warning said
    finally:
        nwbfile.read_io.close()


def test_warning_for_a_new_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "new.lindi.json"
    with caplog.at_level(logging.WARNING, logger="hdmf_lindi"):
        with pytest.raises(_Boom), NWBLindiIO(path, "w"):
            raise _Boom
    assert len(_discard_warnings(caplog)) == 1 and not path.exists()
