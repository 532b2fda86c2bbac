"""Fast construction of hdmf builders for ``read_builder``.

hdmf's builder constructors and setters are docval-checked: about 20 µs per call, and reading a
file calls them ~10 times per object (a 2,000-TimeSeries NWB spent 1.8 s in docval alone).
Builders made here are filled in directly, field by field, exactly as the docval'd constructors
would fill them. A self-check at import compares one fast builder of each kind with one made
by hdmf's constructors; if hdmf's internals ever differ (a new field, a renamed one), the
module falls back to the public, docval'd constructors and logs it.
"""

from __future__ import annotations

import logging
from typing import Any

from hdmf.build import DatasetBuilder, GroupBuilder, LinkBuilder

__all__ = ["add_dataset", "add_group", "add_link", "group_builder", "dataset_builder", "link_builder", "FAST"]

logger = logging.getLogger(__name__)


def _init_builder(b: Any, name: str, source: str) -> None:
    """The fields ``hdmf.build.builders.Builder.__init__`` sets (no parent yet)."""
    b._Builder__name = name
    b._Builder__parent = None
    b._Builder__source = source
    b._Builder__matched_spec = None


def _fast_group(name: str, source: str, attributes: dict[str, Any]) -> GroupBuilder:
    b: Any = GroupBuilder.__new__(GroupBuilder)
    _init_builder(b, name, source)
    b._BaseBuilder__location = None
    b.obj_type = dict.fromkeys(attributes, "attributes")
    dict.__setitem__(b, "attributes", attributes)
    dict.__setitem__(b, "groups", {})
    dict.__setitem__(b, "datasets", {})
    dict.__setitem__(b, "links", {})
    return b


def _fast_dataset(
    name: str, source: str, attributes: dict[str, Any], data: Any, dtype: Any, maxshape: Any
) -> DatasetBuilder:
    b: Any = DatasetBuilder.__new__(DatasetBuilder)
    _init_builder(b, name, source)
    b._BaseBuilder__location = None
    dict.__setitem__(b, "attributes", attributes)
    dict.__setitem__(b, "data", data)
    b._DatasetBuilder__dimension_labels = None
    b._DatasetBuilder__chunks = False
    b._DatasetBuilder__matched_spec_shape = None
    b._DatasetBuilder__maxshape = maxshape
    b._DatasetBuilder__dtype = dtype
    b._DatasetBuilder__name = name
    return b


def _fast_link(name: str, source: str, target: Any) -> LinkBuilder:
    b: Any = LinkBuilder.__new__(LinkBuilder)
    _init_builder(b, name, source)
    dict.__setitem__(b, "builder", target)
    return b


def _slow_group(name: str, source: str, attributes: dict[str, Any]) -> GroupBuilder:
    return GroupBuilder(name, attributes=attributes, source=source)


def _slow_dataset(
    name: str, source: str, attributes: dict[str, Any], data: Any, dtype: Any, maxshape: Any
) -> DatasetBuilder:
    return DatasetBuilder(name, data=data, dtype=dtype, attributes=attributes, maxshape=maxshape, source=source)


def _slow_link(name: str, source: str, target: Any) -> LinkBuilder:
    return LinkBuilder(builder=target, name=name, source=source)


def _fast_add(parent: Any, child: Any, kind: str) -> None:
    name = child.name
    if parent.obj_type.get(name, kind) != kind:
        raise ValueError(f"'{name}' already exists in {parent.name}.{parent.obj_type[name]}, cannot set in {kind}.")
    dict.__getitem__(parent, kind)[name] = child
    parent.obj_type[name] = kind
    if child._Builder__parent is None:
        child._Builder__parent = parent


def _state(b: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    fields = {k: v for k, v in vars(b).items() if k != "obj_type"}
    return fields, dict(b)


def _self_check() -> bool:
    """Whether fast builders are indistinguishable from hdmf-made ones (same fields, same values)."""
    try:
        target = _slow_group("t", "src", {})
        pairs = [
            (_slow_group("g", "src", {"a": 1}), _fast_group("g", "src", {"a": 1})),
            (
                _slow_dataset("d", "src", {"a": 1}, [1, 2], "int32", (None,)),
                _fast_dataset("d", "src", {"a": 1}, [1, 2], "int32", (None,)),
            ),
            (_slow_link("l", "src", target), _fast_link("l", "src", target)),
        ]
        for slow, fast in pairs:
            if _state(slow) != _state(fast) or getattr(slow, "obj_type", None) != getattr(fast, "obj_type", None):
                return False
        parent_slow, parent_fast = _slow_group("p", "src", {}), _fast_group("p", "src", {})
        parent_slow.set_dataset(_slow_dataset("d", "src", {}, [1], None, None))
        _fast_add(parent_fast, _fast_dataset("d", "src", {}, [1], None, None), "datasets")
        return (
            parent_fast.datasets["d"].parent is parent_fast
            and parent_slow.obj_type == parent_fast.obj_type
            and set(dict(parent_slow)) == set(dict(parent_fast))
        )
    except Exception:  # noqa: BLE001 - any surprise means: use the public constructors
        return False


FAST = _self_check()
if not FAST:  # pragma: no cover - depends on hdmf's internals
    logger.warning("hdmf's builder internals differ from what hdmf_lindi expects; using the slower public API")


def group_builder(name: str, source: str, attributes: dict[str, Any]) -> GroupBuilder:
    """Return a new group builder (``attributes`` is taken over, not copied)."""
    return _fast_group(name, source, attributes) if FAST else _slow_group(name, source, attributes)


def dataset_builder(
    name: str, source: str, attributes: dict[str, Any], data: Any, dtype: Any, maxshape: Any = None
) -> DatasetBuilder:
    """Return a new dataset builder (``attributes`` is taken over, not copied)."""
    if FAST:
        return _fast_dataset(name, source, attributes, data, dtype, maxshape)
    return _slow_dataset(name, source, attributes, data, dtype, maxshape)


def link_builder(name: str, source: str, target: Any) -> LinkBuilder:
    """Return a new link builder pointing at ``target``."""
    return _fast_link(name, source, target) if FAST else _slow_link(name, source, target)


def add_group(parent: GroupBuilder, child: GroupBuilder) -> None:
    """Add a sub-group (and set its parent if unset)."""
    _fast_add(parent, child, "groups") if FAST else parent.set_group(child)


def add_dataset(parent: GroupBuilder, child: DatasetBuilder) -> None:
    """Add a dataset (and set its parent if unset)."""
    _fast_add(parent, child, "datasets") if FAST else parent.set_dataset(child)


def add_link(parent: GroupBuilder, child: LinkBuilder) -> None:
    """Add a link (and set its parent if unset)."""
    _fast_add(parent, child, "links") if FAST else parent.set_link(child)
