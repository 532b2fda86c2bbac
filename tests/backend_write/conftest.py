"""Fixtures of the write tests: the corpus (with its extension), its HDF5 versions, the forms."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # helpers of this folder (no __init__.py in tests/)

from interop.conftest import _lindi_env, run_lindi  # noqa: E402, F401 - lindi 0.4.6 fixtures
from pynwb import NWBHDF5IO  # noqa: E402
from write_corpus import FILES, Corpus, extension_type_map, write_extension  # noqa: E402


@pytest.fixture(scope="session")
def extension_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The extension's namespace YAML (written once per session)."""
    return write_extension(tmp_path_factory.mktemp("extension"))


@pytest.fixture(scope="session")
def corpus(extension_path: Path) -> Corpus:
    """Builds fresh corpus NWBFiles over a type map that knows the extension."""
    return Corpus(extension_type_map(extension_path))


@pytest.fixture(scope="session")
def corpus_h5(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each corpus file written once by NWBHDF5IO (read-only for the tests: copy before changing)."""
    root = tmp_path_factory.mktemp("corpus_h5")
    paths = {}
    for name in FILES:
        paths[name] = root / f"{name}.nwb"
        with NWBHDF5IO(str(paths[name]), "w", manager=corpus.manager()) as io:
            io.write(corpus.build(name))
    return paths
