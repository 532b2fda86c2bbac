"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/ has no __init__.py: make helpers importable

from httpserver import RangeServer  # noqa: E402


@pytest.fixture
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RangeServer]:
    """A started :class:`~httpserver.RangeServer` serving a fresh, empty directory.

    Write files under ``http_server.root`` and fetch them from ``http_server.url(name)``.
    Starting one costs about a millisecond, so every test gets its own (clean log, no faults).
    """
    with RangeServer(tmp_path_factory.mktemp("served")) as server:
        yield server
