"""The ``mock_*`` functions of ``pynwb.testing.mock``, found by walking the package.

Shared by the NWB corpora of tests/hdf5, tests/backend and tests/backend_write, so that each
fails the same way when pynwb gains a mock that a corpus neither calls nor lists.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

import pynwb.testing.mock as mock_pkg

NOT_ADDED = {"mock_NWBFile": "builds the NWBFile itself; every corpus file is one"}
"""Mocks no corpus adds to a file, with the reason."""


def discover_mocks() -> dict[str, Callable[..., Any]]:
    """Every public ``mock_*`` function defined in a module of ``pynwb.testing.mock``."""
    found: dict[str, Callable[..., Any]] = {}
    for info in pkgutil.iter_modules(mock_pkg.__path__):
        module = importlib.import_module(f"{mock_pkg.__name__}.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("mock_") and fn.__module__ == module.__name__:
                found[name] = fn
    return found
