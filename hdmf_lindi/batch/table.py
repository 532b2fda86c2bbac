"""One table (units, trials, electrodes ...) read across many NWB files into one DataFrame.

Each file's table is read by :func:`read_table_one` (a picklable top-level function, so any
executor can run it): only the table's columns are read, each with one batched fetch of its
chunks (small columns are inline in a LINDI file: no request at all). A LINDI file is opened
as it is; an HDF5 file (path or URL) is indexed on the fly, walking only the table's group
(``IndexOptions.only``), not the whole file.

The frame follows hdmf's ``DynamicTable.to_dataframe(index=True)``: the index is the table's
``id`` column, columns in ``colnames`` order, a ragged column as one numpy array per row, a
``DynamicTableRegion`` as row indices; an object-reference column holds the referenced
object's path. A ``source`` column says which file each row came from.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import FormatError, NodeNotFoundError
from ..format.references import Reference
from ..storage.containers import is_hdf5
from ..storage.sources import RemoteOptions, is_url
from ..tree import Dataset, File, Group
from ..tree.open import open_lindi_or_hdf5
from .pools import default_kind, process_pool
from .schedule import default_workers

if TYPE_CHECKING:
    import pandas

__all__ = ["read_table", "read_table_one"]

logger = logging.getLogger(__name__)

DEFAULT_THREADS = 8
"""Files read at once by the default executor when it is threads (reading waits on I/O)."""


def _open(source: str, path: str, options: RemoteOptions | None) -> File:
    if not is_hdf5(source):  # a LINDI file, or a dandi:// name
        return open_lindi_or_hdf5(source, "r", options)
    from ..hdf5 import IndexOptions, index_hdf5

    refmap = index_hdf5(source, options=IndexOptions(remote=options, only=(path,)))
    return File(refmap, options=options, allow_local_paths=not is_url(source))


def _table_group(f: File, path: str, source: str) -> Group:
    try:
        node = f[path]
    except KeyError as exc:
        raise NodeNotFoundError(f"{source} has no table {path!r}.") from exc
    if not isinstance(node, Group) or "colnames" not in node.attrs:
        raise FormatError(f"{path!r} in {source} is not a DynamicTable (no 'colnames' attribute).")
    return node


def _values(ds: Dataset) -> np.ndarray[Any, Any]:
    values = np.asarray(ds[()])
    if values.dtype.kind == "S":
        return np.array([v.decode("utf-8") for v in values.reshape(-1)], dtype=object).reshape(values.shape)
    if values.dtype.kind == "O":
        flat = [
            v.decode("utf-8") if isinstance(v, bytes) else v.path if isinstance(v, Reference) else v
            for v in values.reshape(-1)
        ]
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(values.shape)
    return values


def _split(values: Any, index: np.ndarray[Any, Any]) -> list[Any]:
    """Rows of a ragged column: ``values[index[i-1]:index[i]]``."""
    bounds = np.concatenate([[0], index.astype(np.int64)])
    return [values[bounds[i]:bounds[i + 1]] for i in range(len(index))]


def _column(group: Group, name: str, exclude_array_columns: bool) -> list[Any] | np.ndarray[Any, Any] | None:
    """The rows of one column, or None when it is an array column left out."""
    index_names: list[str] = []
    while f"{name}{'_index' * (len(index_names) + 1)}" in group:
        index_names.append(f"{name}{'_index' * (len(index_names) + 1)}")
    node = group[name]
    if not isinstance(node, Dataset):
        raise FormatError(f"Column {name!r} of {group.name} is not a dataset.")
    if index_names and exclude_array_columns:
        return None
    values: Any = _values(node)
    if not index_names and values.ndim > 1:
        return None if exclude_array_columns else list(values)
    for index_name in index_names:  # the innermost index first
        index = group[index_name]
        assert isinstance(index, Dataset)
        values = _split(values, np.asarray(index[()]))
    return values


def read_table_one(
    source: str,
    path: str = "/units",
    columns: Sequence[str] | None = None,
    exclude_array_columns: bool = True,
    options: RemoteOptions | None = None,
) -> pandas.DataFrame:
    """Read the table at ``path`` of one file (LINDI or HDF5, path or URL) into a DataFrame.

    Raises
    ------
    NodeNotFoundError
        If the file has no such table, or no such column.
    FormatError
        If ``path`` is no DynamicTable.
    """
    import pandas

    with _open(source, path, options) as f:
        group = _table_group(f, path, source)
        colnames = [str(c) for c in np.atleast_1d(group.attrs["colnames"])]
        wanted = list(columns) if columns is not None else colnames
        missing = [c for c in wanted if c not in colnames]
        if missing:
            raise NodeNotFoundError(f"Table {path!r} of {source} has no column {missing}; it has {colnames}.")
        ids = group["id"]
        assert isinstance(ids, Dataset)
        data: dict[str, Any] = {}
        for name in wanted:
            values = _column(group, name, exclude_array_columns)
            if values is not None:
                data[name] = values
        frame = pandas.DataFrame(data, index=pandas.Index(np.asarray(ids[()]), name="id"))
    frame["source"] = source
    return frame


def read_table(
    sources: Iterable[str | os.PathLike[str]],
    path: str = "/units",
    columns: Sequence[str] | None = None,
    *,
    exclude_array_columns: bool = True,
    executor: concurrent.futures.Executor | None = None,  # spelled out: pandas is not imported for the docs
    options: RemoteOptions | None = None,
) -> pandas.DataFrame:
    """Read one table across many NWB files into one DataFrame (see the module docstring).

    Parameters
    ----------
    sources
        LINDI files (``.lindi.json`` ...) or HDF5/NWB files, local paths or URLs, or
        ``dandi://`` names (see :mod:`hdmf_lindi.tree.dandi_open`).
    path
        The table's path in each file, e.g. ``"/units"``, ``"/intervals/trials"``.
    columns
        The columns to read (default: all of ``colnames``); ``id`` is always the index.
    exclude_array_columns
        Leave out ragged and multi-dimensional columns (the default: they are the big ones).
    executor
        Where the files are read (left open). Default: chosen by
        :func:`~hdmf_lindi.batch.pools.default_kind`: when four or more sources need indexing
        on the fly (HDF5 paths or URLs, ``dandi://`` names without index locations), a pool of
        :func:`~hdmf_lindi.batch.schedule.default_workers` processes (h5py's global lock serialises
        threads; see :func:`~hdmf_lindi.batch.pools.process_pool`), else ``DEFAULT_THREADS``
        threads.
    options
        HTTP tuning.

    Returns
    -------
    pandas.DataFrame
        The rows of every file in the order of ``sources``, with a ``source`` column.
    """
    import pandas

    texts = [os.fspath(s) for s in sources]
    args = (path, columns, exclude_array_columns, options)
    if executor is not None:
        frames = _read_all(executor, texts, args)
    elif default_kind(texts) == "processes":
        with process_pool(default_workers(len(texts))) as pool:
            frames = _read_all(pool, texts, args)
    else:
        with ThreadPoolExecutor(max(1, min(DEFAULT_THREADS, len(texts)))) as threads:
            frames = _read_all(threads, texts, args)
    if not frames:
        return pandas.DataFrame()
    return pandas.concat(frames)


def _read_all(executor: concurrent.futures.Executor, texts: list[str], args: tuple[Any, ...]) -> list[pandas.DataFrame]:
    logger.debug("reading %d tables on %s", len(texts), type(executor).__name__)
    futures = [executor.submit(read_table_one, t, *args) for t in texts]
    return [f.result() for f in futures]
