"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/ has no __init__.py: make helpers importable

from httpserver import RangeServer  # noqa: E402
from lindi_samples import LindiSamplesError, ensure_lindi_samples  # noqa: E402


@pytest.fixture
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RangeServer]:
    """A started :class:`~httpserver.RangeServer` serving a fresh, empty directory.

    Write files under ``http_server.root`` and fetch them from ``http_server.url(name)``.
    Starting one costs about a millisecond, so every test gets its own (clean log, no faults).
    """
    with RangeServer(tmp_path_factory.mktemp("served")) as server:
        yield server


@pytest.fixture(scope="session")
def lindi_samples() -> Path:
    """The folder of files lindi 0.4.6 wrote (``lindi_samples.SAMPLE_NAMES``), made by the real
    lindi once per checkout and cached (``lindi_samples.py``). Read-only: copy before changing.

    The calling test fails, never skips, when they cannot be made.
    """
    try:
        return ensure_lindi_samples()
    except LindiSamplesError as exc:
        pytest.fail(f"The lindi 0.4.6 samples cannot be made:\n{exc}", pytrace=False)


# ------------------------------------------------------------------ no silent skips
# A skipped test checks nothing while the run looks green (a missing tool, a path of one
# machine): here a skip is reported as a failure, with its reason. Strict xfails (known
# limitations, which fail when they start passing) are not skips and stay as they are.


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"a skipped test is a failure in this suite: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped:
        report.outcome = "failed"
        report.longrepr = f"a skipped module is a failure in this suite: {report.longrepr}"
