"""Package-level promises: a cheap import, a public API list, one error hierarchy."""

from __future__ import annotations

import inspect
import subprocess
import sys

import hdmf_lindi
from hdmf_lindi import errors


def test_import_does_not_load_heavy_dependencies() -> None:
    code = (
        "import sys, hdmf_lindi; "
        "print(sorted(m for m in ('pynwb', 'hdmf', 'h5py', 'zarr') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert result.stderr == ""  # no warnings at import


def test_public_api_is_exported() -> None:
    for name in hdmf_lindi.__all__:
        assert hasattr(hdmf_lindi, name), name
    assert {"File", "SoftLink", "Reference", "LindiError", "ref_dtype", "string_dtype"} <= set(hdmf_lindi.__all__)


def test_every_error_derives_from_lindi_error_and_a_builtin_where_promised() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    for cls in classes:
        if cls is errors.LindiWarning:
            assert issubclass(cls, UserWarning)
        else:
            assert issubclass(cls, errors.LindiError), cls
    assert issubclass(errors.NodeNotFoundError, KeyError)
    assert issubclass(errors.RemoteReadError, OSError)
    assert issubclass(errors.ModeError, ValueError)
    assert issubclass(errors.UnsupportedError, NotImplementedError)
    assert str(errors.NodeNotFoundError("no such node")) == "no such node"
