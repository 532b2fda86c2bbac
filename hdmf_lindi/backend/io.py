"""LindiIO: hdmf's storage backend for LINDI files (``.lindi.json``, ``.lindi.tar``, ``.lindi.d``).

Reading walks the LINDI tree once into hdmf builders (``reader.py``) with lazy datasets
(``datasets.py``). An HDF5 file (``.nwb``, local or URL) is indexed in memory on open, so it reads
through the same path without h5py's per-object costs.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hdmf.backends.io import HDMFIO, UnsupportedOperation
from hdmf.backends.utils import WriteStatusTracker
from hdmf.build import BuildManager, GroupBuilder, TypeMap
from hdmf.build.builders import BaseBuilder
from hdmf.container import Container as HdmfContainer
from hdmf.spec import NamespaceCatalog

from ..errors import ModeError, NodeNotFoundError
from ..format.references import ExternalLink, Reference
from ..format.zarr_v3_write import check_dialect
from ..storage import RemoteOptions, is_hdf5, is_url, sniff_kind
from ..storage.locking import Locking
from ..storage.stats import IOStats
from ..tree import Dataset, File, Group
from ..tree.open import as_lindi_file, open_lindi_or_hdf5
from .namespaces import cache_namespaces, load_cached_namespaces
from .reader import BuilderReader
from .spec_dtypes import restore_attribute_dtypes
from .writer import BuilderWriter, builder_path

__all__ = ["LindiIO"]

logger = logging.getLogger(__name__)

_READ_MODES = ("r",)
_WRITE_MODES = ("w", "w-", "x", "a", "r+")


class LindiIO(HDMFIO):
    """Read (and write) hdmf containers in a LINDI file.

    Parameters
    ----------
    path
        Local path or http(s) URL of a ``.lindi.json``, ``.lindi.tar`` or ``.lindi.d``, or of an
        HDF5 file (indexed in memory on open, read-only).
    mode
        ``r`` (default), ``r+``, ``a``, ``w``, ``w-`` or ``x``, as for ``HDF5IO``.
    manager
        The build manager; a fresh one with an empty type map if None.
    herd_path
        Path of a HERD zip to load on read (hdmf's external resources).
    options
        HTTP tuning for remote files.
    allow_local_paths
        Whether chunk references to local paths may be read (default: only for local files).
    file
        An already open :class:`hdmf_lindi.File` to use instead of opening ``path``, or an
        open read-only ``h5py.File``, which is indexed in memory and read through the index.
    locking, lock_timeout
        The writers' lock of write modes, as for :class:`hdmf_lindi.File`.
    metadata_as_text
        How a written file spells its metadata values, as for :class:`hdmf_lindi.File`
        (True: JSON text, for kerchunk clients such as zarrita; None keeps the file's spelling).
    dialect
        What a written file is written as, as for :class:`hdmf_lindi.File`: ``"lindi"`` (LINDI
        v2) or ``"zarr3"`` (the Zarr v3 convention hdmf-zarr 0.14 reads); None keeps the file's.

    Raises
    ------
    ModeError
        For an unknown mode, a missing file in ``r``/``r+``, or an existing one in ``w-``/``x``.
    FormatError
        If the file is not LINDI (nor HDF5).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        mode: str = "r",
        manager: BuildManager | TypeMap | None = None,
        herd_path: str | None = None,
        *,
        options: RemoteOptions | None = None,
        allow_local_paths: bool | None = None,
        file: File | None = None,
        driver: str | None = None,
        aws_region: str | None = None,
        locking: Locking = None,
        lock_timeout: float = 0.0,
        metadata_as_text: bool | None = None,
        dialect: str | None = None,
        **kwargs: Any,
    ) -> None:
        del driver, aws_region  # accepted for NWBHDF5IO compatibility (pynwb passes them)
        if kwargs:
            logger.debug("LindiIO ignores %s", sorted(kwargs))
        if mode not in _READ_MODES + _WRITE_MODES:
            raise ModeError(f"Invalid mode {mode!r}; use one of r, r+, a, w, w-, x.")
        file = as_lindi_file(file, mode, options, allow_local_paths)  # an h5py.File: its index
        if path is None and file is None:
            raise ValueError("Either path or file is required.")
        if path is None:
            assert file is not None
            path = file.filename
        self._path = os.fspath(path)
        self._mode = mode
        self._options = options
        self._allow_local = allow_local_paths
        self._locking = locking
        self._lock_timeout = lock_timeout
        self._metadata_as_text = metadata_as_text
        self._dialect = None if dialect is None else check_dialect(dialect)
        self._given_file = file
        self._lindi_file: File | None = None
        self._reader: BuilderReader | None = None
        self._written_builders = WriteStatusTracker()
        self._linked: dict[str, LindiIO] = {}
        self._commit_depth = 0  # > 0 inside write()/export(): one flush at the end
        self._stats: IOStats | None = None
        if manager is None:
            manager = BuildManager(TypeMap(NamespaceCatalog()))
        elif isinstance(manager, TypeMap):
            manager = BuildManager(manager)
        source = self._path if is_url(self._path) or "://" in self._path else str(Path(self._path).absolute())
        super().__init__(manager=manager, source=source, herd_path=herd_path)

    # ------------------------------------------------------------------ life cycle
    @property
    def mode(self) -> str:
        """The mode the file was opened with."""
        return self._mode

    @property
    def _file(self) -> File | None:
        """The open :class:`hdmf_lindi.File` (pynwb's validator passes it back as ``file=``)."""
        return self._lindi_file

    @property
    def file(self) -> File:
        """The open :class:`hdmf_lindi.File`.

        Raises
        ------
        UnsupportedOperation
            If the IO is closed.
        """
        if self._lindi_file is None:
            raise UnsupportedOperation(f"The LINDI file {self.source} is closed.")
        return self._lindi_file

    @property
    def stats(self) -> IOStats:
        """The file's I/O counters (requests, bytes fetched and decoded, cache hits, per source).

        They stay readable after :meth:`close`. Files reached through external links count in
        their own ``stats``; ``with hdmf_lindi.stats() as s:`` counts everything.
        """
        if self._stats is None:
            self._stats = IOStats()
        return self._stats

    def open(self) -> None:
        """Open the file (called by ``HDMFIO.__init__``)."""
        if self._lindi_file is not None:
            return
        if self._given_file is not None:
            self._lindi_file = self._given_file
        else:
            self._lindi_file = open_lindi_or_hdf5(
                self._path, self._mode, self._options, self._allow_local,
                locking=self._locking, lock_timeout=self._lock_timeout,
            )
        if self._metadata_as_text is not None and self._mode not in _READ_MODES:
            self._lindi_file.metadata_as_text = self._metadata_as_text
        if self._dialect is not None and self._mode not in _READ_MODES:
            self._lindi_file.dialect = self._dialect
        self._stats = self._lindi_file.container.stats

    def is_open(self) -> bool:
        """Whether the file is open."""
        return self._lindi_file is not None and not self._lindi_file.closed

    def close(self) -> None:
        """Flush pending changes (writable modes) and close; safe to call twice."""
        for linked in list(getattr(self, "_linked", {}).values()):
            linked.close()
        if getattr(self, "_linked", None):
            self._linked.clear()
        f = getattr(self, "_lindi_file", None)
        if f is None:
            return
        self._lindi_file = None
        if not f.closed:
            f.close()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """Close; if the ``with`` block raised, discard its unflushed changes first.

        The same rule as :class:`hdmf_lindi.File`: a block that fails (after ``add_trial``,
        say) leaves the file in its last flushed state, never half-edited.
        """
        if exc_type is not None and self._mode != "r":
            self._abandon("the 'with' block raised")
        self.close()

    # ------------------------------------------------------------------ hdmf contract
    @staticmethod
    def can_read(path: str) -> bool:
        """Return whether ``path`` looks like a LINDI (or HDF5) file we can open; never raises."""
        try:
            text = os.fspath(path)
            if is_url(text):
                return text.split("?", 1)[0].rstrip("/").endswith((".lindi.json", ".lindi.tar", ".lindi.d", ".nwb"))
            if os.path.isdir(text):
                return os.path.isfile(os.path.join(text, "lindi.json"))
            if not os.path.isfile(text):
                return False
            if is_hdf5(text):
                return True
            with open(text, "rb") as fh:
                head = fh.read(512)
            sniff_kind(head, text)  # raises unless a tar or JSON
            return True
        except Exception:  # noqa: BLE001 - can_read must never raise
            return False

    @classmethod
    def load_namespaces(
        cls,
        namespace_catalog: NamespaceCatalog | TypeMap,
        path: str | os.PathLike[str] | None = None,
        namespaces: list[str] | None = None,
        file: File | None = None,
        *,
        options: RemoteOptions | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Load the namespaces cached in a file into a catalog or type map.

        Returns
        -------
        dict
            What ``NamespaceCatalog.load_namespaces`` returns (namespace -> included types);
            empty if the file caches no specification.
        """
        if file is not None:
            return load_cached_namespaces(namespace_catalog, file, namespaces)
        if path is None:
            raise ValueError("Either path or file is required.")
        f = open_lindi_or_hdf5(os.fspath(path), "r", options, None)
        try:
            return load_cached_namespaces(namespace_catalog, f, namespaces)
        finally:
            f.close()

    def load_namespaces_io(
        self, namespace_catalog: NamespaceCatalog | TypeMap, namespaces: list[str] | None = None
    ) -> dict[str, Any]:
        """Load the namespaces cached in this open file."""
        if not self.is_open():
            raise UnsupportedOperation(f"Cannot load namespaces from closed LINDI file {self.source!r}.")
        return load_cached_namespaces(namespace_catalog, self.file, namespaces)

    def read(self, **kwargs: Any) -> HdmfContainer:
        """Read the file into containers (``HDMFIO.read``), refusing modes that create a file."""
        if self._mode in ("w", "w-", "x"):
            raise UnsupportedOperation(f"Cannot read from file {self.source} in mode {self._mode!r}.")
        return super().read(**kwargs)

    def read_builder(self) -> GroupBuilder:
        """Return the root builder of the whole file (cached: the same object on every call)."""
        if not self.is_open():
            raise UnsupportedOperation(f"Cannot read data from closed LINDI file {self.source!r}.")
        reader = self._builder_reader()
        cached = reader.built.get("/")
        if isinstance(cached, GroupBuilder):
            return cached
        root = reader.read_root()
        restore_attribute_dtypes(root, self.manager.namespace_catalog)
        return root

    def _builder_reader(self) -> BuilderReader:
        if self._reader is None:
            self._reader = BuilderReader(
                self.file, self.source, self, self._written_builders.set_written, self._follow_external
            )
        return self._reader

    def _follow_external(self, link: ExternalLink, at: str) -> BaseBuilder:
        """Read the target of an external link, in the file :meth:`File.open_linked` opens.

        Raises
        ------
        ChunkRefError
            If the link names a local file and this file may not read local paths (a remote
            file, unless opened with ``allow_local_paths=True``).
        NodeNotFoundError
            If the linked file or its target does not exist.
        """
        linked_file = self.file.open_linked(link, at=at)
        linked = self._linked.get(linked_file.filename)
        if linked is None or not linked.is_open():
            linked = LindiIO(mode="r", manager=self.manager, file=linked_file)
            self._linked[linked_file.filename] = linked
        return linked._builder_reader().builder_at(link.path)

    def write(
        self,
        container: HdmfContainer,
        cache_spec: bool = True,
        link_data: bool = True,
        exhaust_dci: bool = True,
        herd: Any = None,
    ) -> None:
        """Write a container (and everything under it), then cache the namespaces.

        Raises
        ------
        UnsupportedOperation
            In mode ``r``.
        """
        if self._mode == "r":
            raise UnsupportedOperation(
                f"Cannot write to file {self.source} in mode 'r'. Please use mode 'r+', 'w', 'w-', 'x', or 'a'"
            )
        with self._one_commit():
            super().write(container=container, herd=herd, link_data=link_data, exhaust_dci=exhaust_dci)
            if cache_spec:
                self._cache_spec()

    @contextlib.contextmanager
    def _one_commit(self) -> Iterator[None]:
        """Make a write one commit: flushed once at the end, or abandoned as a whole on failure.

        The containers and the namespaces cached with them become visible together; a failure
        at any point (a builder, the specifications, the flush itself) leaves the file as it
        was before the write.
        """
        self._commit_depth += 1
        try:
            yield
            if self._commit_depth == 1:
                self.file.flush()
        except BaseException:
            self._abandon()
            raise
        finally:
            self._commit_depth -= 1

    def _abandon(self, why: str = "a write failed") -> None:
        """Close without flushing, so the file keeps its last flushed state.

        A half-written tree is never published (``close()`` would otherwise flush it). The IO is
        closed afterwards; open the file again to continue.
        """
        for linked in list(self._linked.values()):
            linked.close()
        self._linked.clear()
        f = self._lindi_file
        if f is None or f.closed:
            return
        container = f.container
        if not container.read_only and (container.refmap.dirty or not container.published):
            logger.warning("%s: the unflushed changes to %s are discarded", why.capitalize(), self.source)
        f.discard()
        self._lindi_file = None

    def write_builder(
        self,
        builder: GroupBuilder,
        link_data: bool = True,
        exhaust_dci: bool = True,
        export_source: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Write a root builder tree; builders already written are skipped (append mode).

        Raises
        ------
        UnsupportedOperation
            In mode ``r``.
        """
        if self._mode == "r":
            raise UnsupportedOperation(f"Cannot write to file {self.source} in mode 'r'.")
        if kwargs:
            logger.debug("write_builder ignores %s", sorted(kwargs))
        writer = BuilderWriter(
            self.file,
            self.source,
            self._builder_of,
            self.get_written,
            self._written_builders.set_written,
            link_data=link_data,
            export_source=export_source,
            exhaust_dci=exhaust_dci,
        )
        with self._one_commit():
            writer.write_root(builder)
        if self._reader is not None:
            # the tree changed: builders read before must not be served for new paths
            self._reader.built.setdefault("/", builder)

    def _builder_of(self, container: HdmfContainer) -> BaseBuilder:
        builder = self.manager.get_builder(container)
        if builder is None:
            builder = self.manager.build(container, source=self.source)
        return builder

    def _cache_spec(self) -> None:
        """Store every namespace of the manager under ``/specifications`` (existing versions kept)."""
        with self._one_commit():
            cache_namespaces(self.file, self.manager.namespace_catalog)

    def export(
        self,
        src_io: HDMFIO,
        container: HdmfContainer | None = None,
        write_args: dict[str, Any] | None = None,
        cache_spec: bool = True,
    ) -> None:
        """Export what ``src_io`` read (or ``container``) into this file (mode ``w``).

        From another backend (e.g. ``NWBHDF5IO``), pass ``write_args={"link_data": False}``.

        Raises
        ------
        UnsupportedOperation
            If this IO is not in mode ``w``, or ``link_data`` is not False for another backend.
        """
        if self._mode != "w":
            raise UnsupportedOperation(f"Cannot export to file {self.source} in mode {self._mode!r}. Please use mode 'w'.")
        write_args = dict(write_args or {})
        if not isinstance(src_io, LindiIO) and write_args.get("link_data", True):
            raise UnsupportedOperation(
                f"Cannot export from non-LINDI backend {type(src_io).__name__} to LINDI with write argument "
                "link_data=True. Set write_args={'link_data': False}"
            )
        write_args["export_source"] = src_io.source
        clear_cache = not write_args.get("link_data", True)
        with self._one_commit():
            super().export(src_io=src_io, container=container, write_args=write_args, clear_cache=clear_cache)
            if cache_spec:
                catalog = self.manager.namespace_catalog
                for namespace in src_io.manager.namespace_catalog.namespaces:
                    if namespace not in catalog.namespaces:
                        catalog.add_namespace(namespace, src_io.manager.namespace_catalog.get_namespace(namespace))
                self._cache_spec()

    @classmethod
    def export_io(
        cls,
        path: str,
        src_io: HDMFIO,
        container: HdmfContainer | None = None,
        write_args: dict[str, Any] | None = None,
        cache_spec: bool = True,
        **kwargs: Any,
    ) -> None:
        """Export ``src_io`` into a new LINDI file at ``path`` (mode ``w``)."""
        with cls(path, "w", **kwargs) as io:
            # positional: NWBLindiIO.export names the container ``nwbfile``, as NWBHDF5IO does
            io.export(src_io, container, write_args, cache_spec)

    def get_written(self, builder: BaseBuilder) -> bool:
        """Whether ``builder`` was read from or written to this file."""
        return bool(self._written_builders.get_written(builder))

    # ------------------------------------------------------------------ references
    def _path_of(self, obj: Any) -> str:
        if isinstance(obj, Reference):
            return obj.path
        if isinstance(obj, Group | Dataset):
            return obj.name
        if isinstance(obj, str):
            return obj
        raise TypeError(f"Cannot find a builder for {type(obj).__name__}.")

    def get_builder(self, obj: Any) -> BaseBuilder:
        """Return the builder read for a reference, a path or a tree node.

        Raises
        ------
        ValueError
            If nothing was read at that path (as ``HDF5IO.get_builder``).
        """
        path = self._path_of(obj)
        reader = self._builder_reader()
        builder = reader.built.get(path if path.startswith("/") else "/" + path)
        if builder is None:
            try:
                builder = reader.builder_at(path)
            except (KeyError, NodeNotFoundError) as exc:
                raise ValueError(f"{self.source}:{path} has not been built") from exc
        return builder

    def get_container(self, obj: Any) -> HdmfContainer:
        """Return the container for a reference, a path or a tree node (constructed on demand)."""
        return self.manager.construct(self.get_builder(obj))

    def _create_ref(self, target: Any) -> Reference:
        """Return a stored reference to a builder, reference builder or container."""
        from hdmf.build import LinkBuilder, ReferenceBuilder

        if isinstance(target, HdmfContainer):
            target = self._builder_of(target)
        if isinstance(target, ReferenceBuilder | LinkBuilder):
            target = target.builder
        object_id = target.attributes.get("object_id") if isinstance(target, BaseBuilder) else None
        return Reference(path=builder_path(target), object_id=object_id if isinstance(object_id, str) else None)

    @staticmethod
    def generate_dataset_html(dataset: Any) -> str:
        """Return an HTML summary of a dataset (shape, dtype, chunking, compression)."""
        rows = {
            "Data type": getattr(dataset, "dtype", None),
            "Shape": getattr(dataset, "shape", None),
            "Chunk shape": getattr(dataset, "chunks", None),
            "Compression": getattr(dataset, "compression", None),
        }
        body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows.items())
        return f'<table class="data-info">{body}</table>'
