"""xarray over LINDI files: the ``hdmf_lindi`` backend engine and ``to_xarray`` for TimeSeries.

``xr.open_dataset(location, engine="hdmf_lindi", group="acquisition/ElectricalSeries")`` opens
one group as an ``xarray.Dataset`` whose variables are lazily indexed views of the group's
datasets; with ``chunks={}`` they are dask arrays whose blocks are whole storage chunks (see
:mod:`hdmf_lindi.dask`), picklable by location. Nothing is read until indexed or computed.
``xr.open_datatree(location, engine="hdmf_lindi")`` opens every group.

NWB files carry no ``_ARRAY_DIMENSIONS`` (zarr's dimension names); when a dataset has them they
are used. Otherwise a group laid out as an NWB TimeSeries (``data`` plus ``timestamps``, or
``starting_time`` with a ``rate``) gets NWB's dimensions: ``data`` is ``(time, channel, ...)``,
the ``time`` coordinate is a lazy ``RangeIndex`` for a rate-based series (no timestamps array is
materialised) or the timestamps otherwise, and an ``electrodes`` region becomes the ``channel``
coordinate (the electrode ids it selects). Other datasets get ``<name>_dim_<i>`` dimensions.
Compound datasets and datasets of references have no xarray form and are left out.

:func:`hdmf_lindi.to_xarray` does the same for a pynwb ``TimeSeries`` object (duck-typed: pynwb is not
imported here), e.g. one read with :class:`~hdmf_lindi.NWBLindiIO`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.core import indexing
from xarray.indexes import RangeIndex

from .dask import aligned_chunks, block_itemsize, target_block_bytes
from .format.dtypes import is_reference_dtype
from .format.references import Reference
from .storage import RemoteOptions
from .tree import Dataset, Group
from .tree.array import CHUNK_CACHE_BYTES
from .tree.handle import OPEN_FILES, DatasetHandle, FileHandle

__all__ = ["LindiBackendEntrypoint", "group_to_dataset", "to_xarray"]

logger = logging.getLogger(__name__)

SUFFIXES = (".lindi.json", ".lindi.tar", ".lindi.d")
_SERIES_ATTRS = ("unit", "conversion", "offset", "resolution")


class LindiBackendArray(BackendArray):
    """A LINDI dataset as xarray's lazily indexed backend array (picklable by location).

    Reads go through a :class:`~hdmf_lindi.tree.handle.DatasetHandle`: the live dataset in this
    process, the per-process cache of open files elsewhere (dask workers).
    """

    __slots__ = ("dtype", "handle", "shape")

    def __init__(self, handle: DatasetHandle) -> None:
        self.handle = handle
        self.shape = handle.shape
        self.dtype = handle.dtype

    def __getitem__(self, key: indexing.ExplicitIndexer) -> Any:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._read
        )

    def _read(self, key: tuple[Any, ...]) -> Any:
        return np.asarray(self.handle[key])


def _attr_value(value: Any) -> Any:
    """An attribute as xarray keeps it, or None to leave it out (references, objects)."""
    if isinstance(value, Reference):
        return None
    if isinstance(value, str | int | float | bool | np.generic):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "iufbU" and value.ndim <= 1:
        return value
    return None


def _attrs(node: Group | Dataset) -> dict[str, Any]:
    out = {}
    for name, value in node.attrs.items():
        kept = _attr_value(value)
        if kept is not None:
            out[name] = kept
    return out


def _time_coordinate_from_rate(start: float, rate: float, n: int) -> xr.Coordinates:
    """A lazy ``time`` coordinate: ``start + i / rate`` for ``i < n``, nothing materialised."""
    index = RangeIndex.linspace(start, start + n / rate, n, endpoint=False, dim="time")
    return xr.Coordinates.from_xindex(index)


def _series_layout(group: Group) -> dict[str, Any] | None:
    """NWB TimeSeries facts of a group (rate or timestamps), or None if it is not laid out as one."""
    data = group.get("data")
    if not isinstance(data, Dataset) or data.ndim == 0:
        return None
    starting = group.get("starting_time")
    if isinstance(starting, Dataset) and "rate" in starting.attrs:
        return {"rate": float(starting.attrs["rate"]), "start": float(starting[()])}
    stamps = group.get("timestamps")
    if isinstance(stamps, Dataset) and stamps.ndim == 1:
        return {"timestamps": stamps}
    return None


def _channel_ids(region: Dataset) -> np.ndarray[Any, Any] | None:
    """The electrode ids an ``electrodes`` region selects (its ``table`` attribute's ``id``)."""
    ref = region.attrs.get("table")
    if not isinstance(ref, Reference):
        return None
    table = region.file[ref]
    ids = table.get("id") if isinstance(table, Group) else None
    if not isinstance(ids, Dataset):
        return None
    return np.asarray(ids[()])[np.asarray(region[()], dtype=np.int64)]


def _dims(name: str, ds: Dataset, series: bool) -> tuple[str, ...]:
    named = ds.attrs.get("_ARRAY_DIMENSIONS")
    if named is not None and len(named) == ds.ndim:
        return tuple(str(d) for d in named)
    if series and name in ("data", "timestamps", "electrodes", "channel_conversion"):
        base = {"data": ("time", "channel"), "timestamps": ("time",)}.get(name, ("channel",))
        dims = base[: ds.ndim]
        return dims + tuple(f"{name}_dim_{i}" for i in range(len(dims), ds.ndim))
    return tuple(f"{name}_dim_{i}" for i in range(ds.ndim))


def group_to_dataset(
    group: Group, *, drop_variables: Iterable[str] = (), target_bytes: int | None = None
) -> xr.Dataset:
    """Return the datasets of ``group`` as a lazily indexed ``xarray.Dataset``.

    Each variable is a ``LindiBackendArray`` whose encoding's ``preferred_chunks`` are
    whole storage chunks grown to ``target_bytes`` (see :func:`hdmf_lindi.dask.aligned_chunks`),
    so ``chunks={}`` in ``xr.open_dataset`` makes dask arrays of them. The group's file must be
    open read-only from a path or URL (tasks reopen it by location). See the module docstring
    for dimensions and coordinates.
    """
    drop = set(drop_variables)
    layout = _series_layout(group)
    variables: dict[str, xr.Variable] = {}
    coords: dict[str, Any] = {}
    for name in group:
        node = group.get(name)
        if name in drop or not isinstance(node, Dataset):
            continue
        if node.dtype.fields is not None or is_reference_dtype(node.dtype):
            logger.debug("leaving out %s (%s): no xarray form", node.name, node.dtype)
            continue
        if layout is not None and name == "starting_time":
            continue  # it is the time coordinate
        dims = _dims(name, node, layout is not None)
        encoding: dict[str, Any] = {}
        if node.ndim == 0:
            data: Any = node[()]
        else:
            handle = DatasetHandle.of(node)
            data = indexing.LazilyIndexedArray(LindiBackendArray(handle))
            blocks = aligned_chunks(node.shape, node.chunks, block_itemsize(node.dtype), target_block_bytes(target_bytes))
            encoding = {"preferred_chunks": dict(zip(dims, blocks, strict=True)), "chunks": node.chunks}
        variable = xr.Variable(dims, data, attrs=_attrs(node), encoding=encoding)
        if layout is not None and name == "electrodes":
            ids = _channel_ids(node)
            if ids is not None:
                coords["channel"] = ("channel", ids, {"table": "electrodes"})
            continue
        if layout is not None and name == "timestamps":
            coords["time"] = ("time", np.asarray(node[()]), variable.attrs)
            continue
        variables[name] = variable
    out = xr.Dataset(variables, coords=coords, attrs=_attrs(group))
    if layout is not None and "rate" in layout and "data" in variables:
        n = variables["data"].shape[0]
        out = out.assign_coords(_time_coordinate_from_rate(layout["start"], layout["rate"], n))
        out.attrs["rate"] = layout["rate"]
        out.attrs["starting_time"] = layout["start"]
    return out


def _open_group(
    location: Any, group: str | None, options: RemoteOptions | None, allow_local_paths: bool | None
) -> Group:
    handle = FileHandle.at(os.fspath(location), options, allow_local_paths, chunk_cache_bytes=CHUNK_CACHE_BYTES)
    file = OPEN_FILES.get(handle)
    node = file[group.strip("/")] if group and group.strip("/") else file
    if not isinstance(node, Group):
        raise TypeError(f"{group!r} of {location} is a dataset, not a group.")
    return node


class LindiBackendEntrypoint(BackendEntrypoint):
    """The ``hdmf_lindi`` engine of ``xr.open_dataset`` / ``xr.open_datatree``."""

    description = "LINDI files (.lindi.json, .lindi.tar, .lindi.d; local or http(s)) via hdmf-lindi"
    url = "https://github.com/hdmf-dev/hdmf-lindi"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "group", "options", "allow_local_paths")
    supports_groups = True

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """Whether the location names a LINDI file (by suffix)."""
        if not isinstance(filename_or_obj, str | os.PathLike):
            return False
        return os.fspath(filename_or_obj).rstrip("/").endswith(SUFFIXES)

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        group: str | None = None,
        options: RemoteOptions | None = None,
        allow_local_paths: bool | None = None,
        target_bytes: int | None = None,
    ) -> xr.Dataset:
        """Open ``group`` (default: the root) of a LINDI file as a lazy dataset."""
        drop = [drop_variables] if isinstance(drop_variables, str) else list(drop_variables or ())
        node = _open_group(filename_or_obj, group, options, allow_local_paths)
        return group_to_dataset(node, drop_variables=drop, target_bytes=target_bytes)

    def open_groups_as_dict(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        group: str | None = None,
        options: RemoteOptions | None = None,
        allow_local_paths: bool | None = None,
        target_bytes: int | None = None,
    ) -> dict[str, xr.Dataset]:
        """Open ``group`` (default: the root) and every group below it, by path."""
        drop = [drop_variables] if isinstance(drop_variables, str) else list(drop_variables or ())
        top = _open_group(filename_or_obj, group, options, allow_local_paths)
        out = {"/": group_to_dataset(top, drop_variables=drop, target_bytes=target_bytes)}
        prefix = top.name.rstrip("/")

        def visit(name: str, node: Any) -> None:
            if isinstance(node, Group):
                out["/" + name] = group_to_dataset(node, drop_variables=drop, target_bytes=target_bytes)

        top.visititems(visit)
        logger.debug("opened %d groups under %s", len(out), prefix or "/")
        return out

    def open_datatree(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        group: str | None = None,
        options: RemoteOptions | None = None,
        allow_local_paths: bool | None = None,
        target_bytes: int | None = None,
    ) -> xr.DataTree:
        """Open ``group`` (default: the root) and every group below it as a ``DataTree``."""
        groups = self.open_groups_as_dict(
            filename_or_obj, drop_variables=drop_variables, group=group, options=options,
            allow_local_paths=allow_local_paths, target_bytes=target_bytes,
        )
        return xr.DataTree.from_dict(groups)


def to_xarray(timeseries: Any, *, target_bytes: int | None = None) -> xr.DataArray:
    """Return a pynwb ``TimeSeries`` as a lazy ``xarray.DataArray`` with ``(time, channel)`` dims.

    The ``time`` coordinate is a lazy ``RangeIndex`` for a rate-based series (nothing is
    materialised) and the timestamps otherwise; an ``electrodes`` region gives the ``channel``
    coordinate (electrode ids); ``unit``, ``conversion``, ``offset``, ``resolution``, ``rate``
    and ``starting_time`` go into ``attrs`` (values are as stored: multiply by ``conversion``
    and add ``offset`` for ``unit``).

    Parameters
    ----------
    timeseries
        A ``TimeSeries`` (or subclass, e.g. ``ElectricalSeries``); its ``data`` may be a LINDI
        dataset (dask-backed result, blocks of whole storage chunks) or any array.
    target_bytes
        dask block size (see :func:`hdmf_lindi.dask.to_dask`).

    """
    data = timeseries.data
    if hasattr(data, "to_dask"):
        array: Any = data.to_dask(target_bytes=target_bytes)
    elif isinstance(data, np.ndarray):
        array = da.from_array(data)
    else:
        array = np.asarray(data)
    if array.ndim == 0:
        raise ValueError(f"TimeSeries {timeseries.name!r} has scalar data; it has no time axis.")
    dims = ("time", "channel", *(f"dim_{i}" for i in range(2, array.ndim)))[: array.ndim]
    attrs: dict[str, Any] = {k: getattr(timeseries, k) for k in _SERIES_ATTRS if getattr(timeseries, k, None) is not None}
    coords: dict[str, Any] = {}
    rate = getattr(timeseries, "rate", None)
    stamps = getattr(timeseries, "timestamps", None)
    n = array.shape[0]
    if stamps is None and rate is not None:
        start = float(getattr(timeseries, "starting_time", 0.0) or 0.0)
        attrs.update(rate=float(rate), starting_time=start)
        time_coords: xr.Coordinates | None = _time_coordinate_from_rate(start, float(rate), n)
    else:
        time_coords = None
        if stamps is not None:
            coords["time"] = np.asarray(stamps[()] if hasattr(stamps, "shape") and not isinstance(stamps, np.ndarray) else stamps)
    region = getattr(timeseries, "electrodes", None)
    if region is not None and array.ndim >= 2:
        ids = np.asarray(region.table.id[:])[np.asarray(region.data[:], dtype=np.int64)]
        coords["channel"] = ids
    out = xr.DataArray(array, dims=dims, coords=coords, name=timeseries.name, attrs=attrs)
    if time_coords is not None:
        out = out.assign_coords(time_coords)
    return out
