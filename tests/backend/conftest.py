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
from typing import Any

import pytest
from backend_corpus import Corpus
from hdmf.build import BuildManager
from interop.conftest import DRIVER, _lindi_env, lindi_python  # noqa: F401
from pynwb import NWBHDF5IO
from pynwb.testing import TestCase

LINDI_CONVERT_TIMEOUT_S = 120


class Reads:
    """Open reads of the corpus files, one per (reader, file, source), closed at the end."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self._open: dict[tuple[str, ...], tuple[Any, Any]] = {}
        self._shared_type_map: Any = None

    def hdf5(self, name: str) -> Any:
        """The NWBFile NWBHDF5IO reads from corpus file ``name`` (the reference)."""
        key = ("hdf5", name)
        if key not in self._open:
            io = NWBHDF5IO(str(self.corpus.paths[name]), "r", manager=self._manager(name))
            self._open[key] = (io, io.read())
        return self._open[key][1]

    def lindi(self, name: str, source: str) -> Any:
        """The NWBFile NWBLindiIO reads from ``name`` as ``source`` (a LINDI form, or "nwb")."""
        path = self.corpus.source(name, source)
        return self.lindi_path(path, key=("lindi", name, source), manager=self._manager(name))

    def lindi_path(
        self, path: Path, *, key: tuple[str, ...] | None = None, manager: Any = None
    ) -> Any:
        """The NWBFile NWBLindiIO reads from ``path`` (cached by ``key``, default the path)."""
        from hdmf_lindi import NWBLindiIO

        key = key or ("path", str(path))
        if key not in self._open:
            io = NWBLindiIO(str(path), "r", manager=manager)
            self._open[key] = (io, io.read())
        return self._open[key][1]

    def _manager(self, name: str) -> BuildManager | None:
        # Extension classes are generated per type map, and assertContainerEqual compares
        # classes: both readers of the extension file share one type map (hence one class per
        # type). test_nwb_roundtrip.py also reads it the default way (cached namespaces).
        if name != "extension":
            return None
        if self._shared_type_map is None:
            self._shared_type_map = self.corpus.extension_type_map()
        return BuildManager(self._shared_type_map)

    def io(self, *key: str) -> Any:
        """The open IO behind a cached read: ``io("hdf5", name)`` or ``io("lindi", name, source)``."""
        if key not in self._open:
            if key[0] == "hdf5":
                self.hdf5(key[1])
            else:
                self.lindi(key[1], key[2])
        return self._open[key][0]

    def close(self) -> None:
        for io, _ in self._open.values():
            io.close()
        self._open.clear()


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


def assert_same_tree(expected: Any, actual_file: Any) -> None:
    """Assert ``expected`` and each container under it equal their namesakes in ``actual_file``.

    Each container is looked up in ``actual_file.objects`` by ``object_id`` (both reads come
    from the same file) and compared with pynwb's ``assertContainerEqual``. Comparing the root
    alone is not enough: ``assertContainerEqual`` compares a container's ``fields`` only, and
    an NWBFile's acquisition, processing, devices, lab_meta_data... are not among them.
    ``ignore_hdmf_attrs`` skips ``container_source`` (the sources differ by design) and
    ``object_id`` (matched here instead).
    """
    case = TestCase()
    case.maxDiff = None
    expected_all = [expected, *expected.all_children()]
    for container in expected_all:
        assert container.object_id in actual_file.objects, (
            f"{type(container).__name__} {container.name!r} ({container.object_id}) was not read"
        )
        other = actual_file.objects[container.object_id]
        case.assertContainerEqual(
            container,
            other,
            ignore_hdmf_attrs=True,
            message=f"{type(container).__name__} {container.name!r}",
        )
