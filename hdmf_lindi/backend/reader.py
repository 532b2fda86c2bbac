"""Read a LINDI tree into hdmf builders: groups, datasets, links; data stays lazy.

One pass from the root, in h5py's (sorted) member order. Every builder is cached by its path so
link targets and reference targets are the very builders that sit in the tree (pynwb relies on
that to construct linked containers). Nothing but metadata is read, except for scalar datasets
(read eagerly, as ``HDF5IO`` does; they are inline in practice) and the first chunk of an
untyped object array, which tells strings from references.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from hdmf.backends.warnings import BrokenLinkWarning
from hdmf.build import DatasetBuilder, GroupBuilder, ReferenceBuilder
from hdmf.build.builders import BaseBuilder

from ..errors import NodeNotFoundError
from ..format.dtypes import is_reference_dtype
from ..format.references import ExternalLink, Reference, SoftLink
from ..tree import Dataset, File, Group, HardLink
from .builders import add_dataset, add_group, add_link, dataset_builder, group_builder, link_builder
from .datasets import (
    BuilderLindiReferenceDataset,
    BuilderLindiTableDataset,
    LindiDataset,
    compound_field_types,
)

__all__ = ["BuilderReader", "ROOT_NAME", "SPEC_LOC_ATTR"]

logger = logging.getLogger(__name__)

ROOT_NAME = "root"
SPEC_LOC_ATTR = ".specloc"

ExternalResolver = Callable[[ExternalLink, str], BaseBuilder]


def _dirname(path: str) -> str:
    parent = path.rpartition("/")[0]
    return parent or "/"


def _join(group: str, name: str) -> str:
    return f"{group.rstrip('/')}/{name}"


class BuilderReader:
    """Builds hdmf builders for one open LINDI file.

    Parameters
    ----------
    file
        The open file.
    source
        The ``source`` recorded on every builder (the IO's ``source``).
    io
        The IO, handed to lazy datasets (it resolves references and appends).
    mark_written
        Called with every builder created (the IO's write-status tracker).
    external
        Follows an external link: ``external(link, from_path)`` returns the target's builder.
    """

    def __init__(
        self,
        file: File,
        source: str,
        io: Any,
        mark_written: Callable[[BaseBuilder], None],
        external: ExternalResolver | None = None,
    ) -> None:
        self._file = file
        self._source = source
        self._io = io
        self._mark = mark_written
        self._external = external
        self.built: dict[str, BaseBuilder] = {}
        self._ignore: set[str] = set()

    # ------------------------------------------------------------------ entry points
    def read_root(self) -> GroupBuilder:
        """Return the root group builder (named ``root``), the cached specifications left out."""
        cached = self.built.get("/")
        if isinstance(cached, GroupBuilder):
            return cached
        specloc = self._file.attrs.get(SPEC_LOC_ATTR)
        if isinstance(specloc, Reference):
            self._ignore.add(specloc.path)
        elif isinstance(specloc, str):
            self._ignore.add(specloc if specloc.startswith("/") else "/" + specloc)
        root = self._read_group(self._file, "/", ROOT_NAME)
        return root

    def builder_at(self, path: str) -> BaseBuilder:
        """Return the builder of the object at ``path``, reading it if it was not read yet.

        Raises
        ------
        NodeNotFoundError
            If nothing exists at ``path``.
        """
        builder = self.built.get(path)
        if builder is not None:
            return builder
        node = self._file[path]  # the tree normalises the path and follows soft links
        norm = node.name
        builder = self.built.get(norm)
        if builder is not None:
            return builder
        name = norm.rpartition("/")[2] or ROOT_NAME
        if isinstance(node, Dataset):
            return self._read_dataset(node, norm, name)
        return self._read_group(node, norm, name)

    # ------------------------------------------------------------------ groups
    def _read_group(self, group: Group, path: str, name: str) -> GroupBuilder:
        existing = self.built.get(path)
        if isinstance(existing, GroupBuilder):
            return existing
        # Reserve the path before recursing: a member linking back to an ancestor must not recurse.
        builder = group_builder(name, self._source, {})
        builder.location = _dirname(path)
        self.built[path] = builder
        attributes = self._read_attrs(group, is_root=path == "/")
        for key in group.keys():
            child_path = _join(path, key)
            if child_path in self._ignore:
                continue
            link = group.get(key, getlink=True)
            if isinstance(link, HardLink):
                node = group.get(key)
                if isinstance(node, Dataset):
                    add_dataset(builder, self._read_dataset(node, child_path, key))
                elif isinstance(node, Group):
                    add_group(builder, self._read_group(node, child_path, key))
                continue
            target_builder = self._link_target(group, link, path, key)
            if target_builder is None:
                continue
            link_obj = link_builder(key, self._source, target_builder)
            link_obj.location = path
            self._mark(link_obj)
            add_link(builder, link_obj)
        for attr_name, value in attributes.items():
            if attr_name in builder.obj_type:
                raise ValueError(f"'{attr_name}' is both an attribute and a member of {path}.")
            builder.attributes[attr_name] = value
            builder.obj_type[attr_name] = "attributes"
        self._mark(builder)
        return builder

    def _link_target(self, group: Group, link: Any, group_path: str, key: str) -> BaseBuilder | None:
        if isinstance(link, SoftLink):
            target = group.get(key)  # the tree resolves the link (relative ones against the group)
            if target is not None:
                return self.builder_at(target.name)
            warnings.warn(
                f"Path to Group altered/broken at {_join(group_path, key)} (soft link to {link.path!r}).",
                BrokenLinkWarning,
                stacklevel=2,
            )
            return None
        if isinstance(link, ExternalLink):
            if self._external is None:
                warnings.warn(
                    f"External link {_join(group_path, key)} -> {link.filename}:{link.path} not followed.",
                    BrokenLinkWarning,
                    stacklevel=2,
                )
                return None
            try:
                return self._external(link, _join(group_path, key))
            except NodeNotFoundError as exc:  # a missing file or target: hdmf warns and reads on
                warnings.warn(
                    f"Path to Group altered/broken at {_join(group_path, key)} (external link to "
                    f"{link.filename}:{link.path}: {exc}).",
                    BrokenLinkWarning,
                    stacklevel=2,
                )
                return None
        return None

    # ------------------------------------------------------------------ attributes
    def _read_attrs(self, node: Group | Dataset, *, is_root: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.attrs.items():
            if is_root and key == SPEC_LOC_ATTR:
                continue
            if isinstance(value, Reference):
                value = self.builder_at(value.path)
            elif isinstance(value, bytes):
                value = value.decode("utf-8")
            out[key] = value
        return out

    # ------------------------------------------------------------------ datasets
    def _read_dataset(self, ds: Dataset, path: str, name: str) -> DatasetBuilder:
        existing = self.built.get(path)
        if isinstance(existing, DatasetBuilder):
            return existing
        kwargs: dict[str, Any] = {"maxshape": None}
        attributes = self._read_attrs(ds)
        shape = ds.shape
        dtype = ds.dtype
        if shape == ():
            kwargs.update(self._scalar(ds, dtype))
        else:
            kwargs["maxshape"] = ds.maxshape
            if dtype.fields is not None:
                table = BuilderLindiTableDataset(ds, self._io)
                kwargs["data"] = table
                kwargs["dtype"] = [
                    {"name": n, "dtype": t} for n, t in zip(dtype.names or (), table.dtype, strict=True)
                ]
            elif is_reference_dtype(dtype):
                kwargs["data"] = BuilderLindiReferenceDataset(ds, self._io)
                kwargs["dtype"] = "object"
            else:
                kwargs["data"] = LindiDataset(ds, self._io)
                kwargs["dtype"] = dtype
        builder = dataset_builder(name, self._source, attributes, kwargs["data"], kwargs["dtype"], kwargs["maxshape"])
        builder.location = _dirname(path)
        self.built[path] = builder
        self._mark(builder)
        return builder

    def _scalar(self, ds: Dataset, dtype: np.dtype[Any]) -> dict[str, Any]:
        value = ds[()]
        if isinstance(value, Reference):
            return {"data": ReferenceBuilder(self.builder_at(value.path)), "dtype": "object"}
        if dtype.fields is not None:
            fields = [{"name": n, "dtype": t} for n, t in zip(dtype.names or (), compound_field_types(dtype), strict=True)]
            data = np.array(value, dtype=dtype)
            ref_fields = [i for i, field in enumerate(fields) if field["dtype"] == "object"]
            if not ref_fields:
                return {"data": data, "dtype": fields}
            row = list(data[()].tolist()) if data.ndim == 0 else list(data)
            for i in ref_fields:
                ref = row[i]
                row[i] = ReferenceBuilder(self.builder_at(ref.path)) if isinstance(ref, Reference) else ref
            return {"data": tuple(row), "dtype": fields}
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        return {"data": value, "dtype": dtype}
