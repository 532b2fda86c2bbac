"""Cached reads of the NWB corpus, and the comparison every fidelity test uses.

``Reads`` keeps one open IO per (reader, file, source) for the whole session, so lazy data stay
readable and each file is read once per worker; ``assert_same_tree`` compares a container and
everything under it with what another read of the same file holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backend_corpus import Corpus
from hdmf.build import BuildManager
from pynwb import NWBHDF5IO
from pynwb.testing import TestCase


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
            io = NWBHDF5IO(str(self.corpus.paths[name]), "r", manager=self.manager(name))
            self._open[key] = (io, io.read())
        return self._open[key][1]

    def lindi(self, name: str, source: str) -> Any:
        """The NWBFile NWBLindiIO reads from ``name`` as ``source`` (a LINDI form, or "nwb")."""
        path = self.corpus.source(name, source)
        return self.lindi_path(path, key=("lindi", name, source), manager=self.manager(name))

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

    def manager(self, name: str) -> BuildManager | None:
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
