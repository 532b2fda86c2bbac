"""NWBLindiIO: pynwb's ``NWBHDF5IO`` for LINDI files, plus ``read_nwb`` and ``validate``.

pynwb's own ``read_nwb`` and ``validate(path=...)`` only know HDF5 and Zarr (their backend list is
hard-coded), so this module offers the one-line entry points for LINDI.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from hdmf.build import BuildManager, TypeMap
from hdmf.container import Container as HdmfContainer
from pynwb import NWBHDF5IO, NWBFile, get_manager, get_type_map
from pynwb import validate as _pynwb_validate

from .backend.hdf5_export import DirectChunkExportMixin
from .backend.io import LindiIO
from .backend.namespaces import cached_namespace_versions
from .storage import RemoteOptions
from .storage.locking import Locking
from .tree import File
from .tree.open import as_lindi_file, open_lindi_or_hdf5

__all__ = ["NWBLindiIO", "convert", "read_nwb", "validate"]

logger = logging.getLogger(__name__)

_CREATE_MODES = ("w", "w-", "x")


def _parse_version(text: Any) -> tuple[str | None, tuple[Any, ...] | None]:
    if text is None:
        return None, None
    if isinstance(text, bytes):
        text = text.decode()
    text = str(text)
    parts = text.replace("NWB-", "").replace("-", ".").replace("_", ".").split(".")
    return text, tuple(int(p) if p.isnumeric() else p for p in parts)


def _type_map(extensions: Any) -> TypeMap:
    """A copy of pynwb's type map with extra namespaces: YAML path(s) or a TypeMap to merge."""
    type_map = get_type_map()  # a deep copy (pynwb's default copy=True)
    if extensions is None:
        return type_map
    if isinstance(extensions, TypeMap):
        type_map.merge(extensions)
        return type_map
    for path in [extensions] if isinstance(extensions, str | os.PathLike) else list(extensions):
        type_map.load_namespaces(os.fspath(path))
    return type_map


def _file_type_map(file: File, extensions: Any, mode: str) -> TypeMap:
    """The type map to open ``file`` with: its cached namespaces (and ``extensions``) loaded.

    In mode ``r``, that is pynwb's own type map when the file's cache would add nothing.

    ``hdmf`` ignores a cached namespace whose name is already loaded (warning when the versions
    differ), so when every namespace cached in the file is in pynwb's global type map, loading
    them into a copy (as ``NWBHDF5IO`` does) yields pynwb's type map again. That copy takes a
    few milliseconds and drops the object mappers pynwb has already built; the global map is
    what pynwb's containers use anyway. Otherwise (an extension cached in the file, or
    ``extensions`` given, or a writable mode) the namespaces are loaded into a copy.
    """
    if extensions is None and mode == "r":
        shared = get_type_map(copy=False)
        catalog = shared.namespace_catalog
        cached = cached_namespace_versions(file)
        if all(name in catalog.namespaces for name in cached):
            loaded = {name: catalog.get_namespace(name)["version"] for name in cached}
            ignored = [(name, version, loaded[name]) for name, version in cached.items() if version != loaded[name]]
            if ignored:
                catalog.warn_for_ignored_namespaces(ignored)  # the warning HDF5IO's load gives
            return shared
    type_map = _type_map(extensions)
    LindiIO.load_namespaces(type_map, file=file)
    return type_map


class NWBLindiIO(LindiIO):
    """Read and write NWB files in LINDI form, as ``pynwb.NWBHDF5IO`` does for HDF5.

    Parameters
    ----------
    path
        A ``.lindi.json``, ``.lindi.tar`` or ``.lindi.d`` (local path or http(s) URL), or an HDF5
        ``.nwb`` file (local or URL), which is indexed in memory and opened read-only.
    mode
        ``r`` (default), ``r+``, ``a``, ``w``, ``w-`` or ``x``.
    load_namespaces
        Load the namespaces cached in the file into a copy of pynwb's type map (the default in
        read modes; ignored when creating a file or when ``manager`` is given).
    manager
        The build manager to use instead.
    extensions
        Extra namespace YAML path(s), or a type map to merge, loaded besides the cached ones.
    file
        An open :class:`hdmf_lindi.File` to use instead of ``path``, or an open read-only
        ``h5py.File`` (as ``NWBHDF5IO`` takes), which is indexed in memory and read through the
        index; it is closed with the IO, the ``h5py.File`` is left open.
    herd_path, options, allow_local_paths, locking, lock_timeout, metadata_as_text, dialect
        As for :class:`~hdmf_lindi.LindiIO`.
    driver, aws_region, comm
        Accepted and ignored, so that code written for ``NWBHDF5IO`` runs unchanged.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        mode: str = "r",
        load_namespaces: bool = True,
        manager: BuildManager | None = None,
        extensions: Any = None,
        file: File | None = None,
        comm: Any = None,
        driver: str | None = None,
        aws_region: str | None = None,
        herd_path: str | None = None,
        *,
        options: RemoteOptions | None = None,
        allow_local_paths: bool | None = None,
        locking: Locking = None,
        lock_timeout: float = 0.0,
        metadata_as_text: bool | None = None,
        dialect: str | None = None,
    ) -> None:
        del comm
        file = as_lindi_file(file, mode, options, allow_local_paths)  # an h5py.File: its index
        if mode in _CREATE_MODES or manager is not None:
            load_namespaces = False
        if load_namespaces:
            if file is None:
                if path is None:
                    raise ValueError("Either path or file is required.")
                # open once: the same File serves the namespaces and the IO
                file = open_lindi_or_hdf5(
                    os.fspath(path), mode, options, allow_local_paths, locking=locking, lock_timeout=lock_timeout
                )
            manager = BuildManager(_file_type_map(file, extensions, mode))
        elif manager is None:
            manager = BuildManager(_type_map(extensions)) if extensions is not None else get_manager()
        super().__init__(
            path,
            mode,
            manager,
            herd_path,
            options=options,
            allow_local_paths=allow_local_paths,
            file=file,
            locking=locking,
            lock_timeout=lock_timeout,
            metadata_as_text=metadata_as_text,
            dialect=dialect,
        )

    @property
    def nwb_version(self) -> tuple[str | None, tuple[Any, ...] | None]:
        """The file's ``nwb_version`` as (string, parsed tuple); ``(None, None)`` when missing."""
        if not self.is_open():
            return None, None
        return _parse_version(self.file.attrs.get("nwb_version"))

    def read(self, skip_version_check: bool = False, **kwargs: Any) -> HdmfContainer:
        """Read the NWB file.

        Raises
        ------
        TypeError
            If the NWB version is missing or older than 2 (unless ``skip_version_check``).
        """
        if not skip_version_check:
            text, version = self.nwb_version
            if version is None:
                raise TypeError("Missing NWB version in file. The file is not a valid NWB file.")
            if isinstance(version[0], int) and version[0] < 2:
                raise TypeError(f"NWB version {text} not supported. PyNWB supports NWB files version 2 and above.")
        return super().read(**kwargs)

    def export(
        self,
        src_io: Any,
        nwbfile: NWBFile | None = None,
        write_args: dict[str, Any] | None = None,
        cache_spec: bool = True,
    ) -> None:
        """Export an NWB file read by another IO into this one (mode ``w``)."""
        super().export(src_io=src_io, container=nwbfile, write_args=write_args or {}, cache_spec=cache_spec)

    @staticmethod
    def can_read(path: str) -> bool:
        """Whether ``path`` is a LINDI (or HDF5) file holding NWB (``nwb_version`` >= 2); never raises."""
        if not LindiIO.can_read(path):
            return False
        try:
            with NWBLindiIO(path, "r", load_namespaces=False) as io:
                _, version = io.nwb_version
        except Exception:  # noqa: BLE001 - can_read must never raise
            return False
        return version is not None and isinstance(version[0], int) and version[0] >= 2

    @staticmethod
    def read_nwb(path: str | os.PathLike[str]) -> NWBFile:
        """Open ``path`` and return its NWBFile (the IO stays open as ``nwbfile.read_io``)."""
        return read_nwb(path)


def read_nwb(path: str | os.PathLike[str], *, options: RemoteOptions | None = None) -> NWBFile:
    """Read an NWB file from a LINDI file or an HDF5 NWB file, local or remote, in one call.

    The IO stays open (``nwbfile.read_io``) so that datasets can be read lazily; close it with
    ``nwbfile.read_io.close()`` when done.
    """
    io = NWBLindiIO(path, "r", options=options)
    try:
        nwbfile = io.read()
    except BaseException:
        io.close()
        raise
    assert isinstance(nwbfile, NWBFile)
    return nwbfile


def validate(
    path: str | os.PathLike[str],
    *,
    namespace: str | None = None,
    use_cached_namespaces: bool = True,
    options: RemoteOptions | None = None,
) -> list[Any]:
    """Validate an NWB file (LINDI or HDF5, local or URL) against its cached namespaces.

    Returns
    -------
    list
        The validation errors (empty when the file is valid), as ``pynwb.validate`` returns them.
    """
    io = NWBLindiIO(path, "r", load_namespaces=use_cached_namespaces, options=options)
    try:
        return list(
            _pynwb_validate(io=io, namespace=namespace, use_cached_namespaces=use_cached_namespaces)
        )
    finally:
        io.close()


class _NWBHDF5Export(DirectChunkExportMixin, NWBHDF5IO):
    """``NWBHDF5IO`` that writes exported LINDI datasets with their chunks and filters kept."""


from .conversion import convert  # noqa: E402 - re-exported here, where it used to live
