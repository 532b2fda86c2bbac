"""Give JSON attributes back the numeric dtype their specification declares.

LINDI attributes are JSON: a ``uint8`` written by pynwb comes back as a plain integer (in files
written by lindi too). hdmf's validator then reports ``expected 'uint8', got 'int64'``. After
``read_builder``, every typed builder's integer and boolean attributes (and those of its untyped
sub-groups and sub-datasets) are cast to the dtype in the spec, so validation passes as on the
HDF5 original. Floats stay float64 (see ``_cast``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from hdmf.build import DatasetBuilder, GroupBuilder
from hdmf.spec import NamespaceCatalog
from hdmf.spec.spec import BaseStorageSpec

__all__ = ["SPEC_DTYPES", "restore_attribute_dtypes"]

logger = logging.getLogger(__name__)

SPEC_DTYPES: dict[str, np.dtype[Any]] = {
    "float": np.dtype("float32"),
    "float32": np.dtype("float32"),
    "double": np.dtype("float64"),
    "float64": np.dtype("float64"),
    "long": np.dtype("int64"),
    "int64": np.dtype("int64"),
    "int": np.dtype("int32"),
    "int32": np.dtype("int32"),
    "short": np.dtype("int16"),
    "int16": np.dtype("int16"),
    "int8": np.dtype("int8"),
    "uint": np.dtype("uint32"),
    "uint64": np.dtype("uint64"),
    "uint32": np.dtype("uint32"),
    "uint16": np.dtype("uint16"),
    "uint8": np.dtype("uint8"),
    "bool": np.dtype("bool"),
}
"""Numeric dtype names of hdmf specs (``"float"`` is float32, ``"int"`` int32 ...) as numpy dtypes."""

# A plan: attribute name -> dtype, plus named sub-specs -> their plans.
_Plan = tuple[dict[str, np.dtype[Any]], dict[str, "_Plan"]]


def _plan_for(spec: BaseStorageSpec) -> _Plan:
    attrs: dict[str, np.dtype[Any]] = {}
    for attr in spec.attributes:
        dtype = SPEC_DTYPES.get(attr.dtype) if isinstance(attr.dtype, str) else None
        if dtype is not None and attr.name:
            attrs[attr.name] = dtype
    subs: dict[str, _Plan] = {}
    children: list[BaseStorageSpec] = list(getattr(spec, "datasets", [])) + list(getattr(spec, "groups", []))
    for child in children:
        # typed children are visited as builders of their own type
        if child.name and child.data_type_def is None and child.data_type_inc is None:
            plan = _plan_for(child)
            if plan[0] or plan[1]:
                subs[child.name] = plan
    return attrs, subs


def _cast(value: Any, dtype: np.dtype[Any]) -> Any:
    """Cast a numeric attribute to the spec dtype; floats are left alone.

    JSON keeps integers exact, so an integer goes to the declared width. A float stays float64:
    pynwb itself writes ``float32``-declared attributes (``conversion``, ``rate`` ...) as float64
    (the validator accepts the wider type), and JSON cannot tell which one the writer chose.
    """
    if dtype.kind == "f":
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biu" and value.dtype != dtype:
            return value.astype(dtype)
        return value
    if isinstance(value, bool | int | float | np.generic) and not isinstance(value, np.str_ | np.bytes_):
        if np.dtype(type(value)).kind not in "biuf" or (isinstance(value, np.generic) and value.dtype == dtype):
            return value
        try:
            return dtype.type(value)
        except (OverflowError, ValueError):
            return value
    return value


def _apply(builder: GroupBuilder | DatasetBuilder, plan: _Plan) -> None:
    attrs, subs = plan
    for name, dtype in attrs.items():
        if name in builder.attributes:
            builder.attributes[name] = _cast(builder.attributes[name], dtype)
    if not subs or not isinstance(builder, GroupBuilder):
        return
    for name, sub in subs.items():
        child = builder.datasets.get(name) or builder.groups.get(name)
        if child is not None:
            _apply(child, sub)


class _Planner:
    def __init__(self, catalog: NamespaceCatalog) -> None:
        self._catalog = catalog
        self._plans: dict[tuple[str, str], _Plan | None] = {}

    def plan(self, namespace: str, data_type: str) -> _Plan | None:
        key = (namespace, data_type)
        if key not in self._plans:
            try:
                spec = self._catalog.get_spec(namespace, data_type)
            except (KeyError, ValueError):
                logger.debug("no spec for %s/%s; attribute dtypes left as stored", namespace, data_type)
                self._plans[key] = None
            else:
                self._plans[key] = _plan_for(spec)
        return self._plans[key]


def restore_attribute_dtypes(root: GroupBuilder, catalog: NamespaceCatalog) -> None:
    """Cast numeric attributes of every typed builder under ``root`` to their spec dtype."""
    planner = _Planner(catalog)
    seen: set[int] = set()
    stack: list[GroupBuilder | DatasetBuilder] = [root]
    while stack:
        builder = stack.pop()
        if id(builder) in seen:
            continue
        seen.add(id(builder))
        attrs = builder.attributes
        data_type = attrs.get("neurodata_type", attrs.get("data_type"))
        namespace = attrs.get("namespace")
        if isinstance(data_type, str) and isinstance(namespace, str):
            plan = planner.plan(namespace, data_type)
            if plan is not None:
                _apply(builder, plan)
        if isinstance(builder, GroupBuilder):
            stack.extend(builder.groups.values())
            stack.extend(builder.datasets.values())
