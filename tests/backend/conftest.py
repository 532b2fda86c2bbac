"""Session fixtures of the backend fidelity tests: the NWB corpus and its reads, cached.

Building the corpus (``backend_corpus.Corpus``) and reading each file costs a fraction of a
second, so each pytest worker builds it once and every test reads the same open files. The
files NWBHDF5IO reads are the reference of every comparison; ``reads.lindi(name, source)``
is what NWBLindiIO reads from each LINDI form or from the ``.nwb`` directly.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from backend_corpus import Corpus
from backend_reads import Reads
from interop.conftest import DRIVER, _lindi_env, lindi_python  # noqa: F401

LINDI_CONVERT_TIMEOUT_S = 120


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The NWB corpus (see ``backend_corpus``), written once per worker."""
    built = Corpus(tmp_path_factory.mktemp("backend_corpus"))
    built.build()
    return built


@pytest.fixture(scope="session")
def reads(corpus: Corpus) -> Iterator[Reads]:
    """Cached NWBHDF5IO and NWBLindiIO reads of the corpus, kept open for lazy data."""
    cache = Reads(corpus)
    yield cache
    cache.close()


@pytest.fixture(scope="session")
def lindi_converted(
    corpus: Corpus,
    lindi_python: str,  # noqa: F811 - the fixture imported from interop.conftest
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], Path]:
    """``lindi_converted(name)``: corpus file ``name`` converted by lindi 0.4.6 to ``.lindi.json``.

    lindi's ``LindiH5pyFile.from_hdf5_file(...).write_lindi_file(...)`` (the ``convert``
    subcommand of ``tests/interop/lindi_driver.py``); chunk references point at the ``.nwb``
    by absolute path. Converted once per file and worker.
    """
    root = tmp_path_factory.mktemp("lindi_converted")
    done: dict[str, Path] = {}

    def convert(name: str) -> Path:
        if name not in done:
            out = root / f"{name}.lindi.json"
            cmd = [lindi_python, str(DRIVER), "convert", str(corpus.paths[name]), str(out)]
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=LINDI_CONVERT_TIMEOUT_S, check=False
            )
            if proc.returncode != 0:
                pytest.fail(
                    f"lindi 0.4.6 could not convert {name}.nwb:\n{proc.stderr[-4000:]}",
                    pytrace=False,
                )
            done[name] = out
        return done[name]

    return convert
