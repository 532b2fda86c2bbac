"""Cached specifications: read ``/specifications/<namespace>/<version>/<source>`` into hdmf.

The layout is the one ``HDF5IO`` writes (and lindi keeps when indexing): a root ``.specloc``
attribute referencing the specifications group, one group per namespace and version, and in it
one scalar string dataset per schema source holding JSON, plus ``namespace``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
from hdmf.backends.utils import NamespaceToBuilderHelper
from hdmf.build import TypeMap
from hdmf.spec import NamespaceCatalog
from hdmf.spec.namespace import SpecReader
from hdmf.spec.write import SpecWriter

from ..errors import FormatError
from ..format.dtypes import string_dtype
from ..format.references import Reference
from ..tree import Dataset, File, Group

__all__ = [
    "LindiSpecReader",
    "LindiSpecWriter",
    "cache_namespaces",
    "cached_namespace_versions",
    "load_cached_namespaces",
    "spec_group",
]

logger = logging.getLogger(__name__)

SPEC_LOC_ATTR = ".specloc"
NAMESPACE_PATH = "namespace"
_LEGACY_VERSIONS = ("unversioned", "None")


class LindiSpecReader(SpecReader):
    """Reads the JSON specifications cached in one ``<namespace>/<version>`` group."""

    def __init__(self, group: Group) -> None:
        super().__init__(source=f"{group.file.filename}:{group.name}")
        self._group = group
        self._namespace: Any = None

    def _read(self, path: str) -> Any:
        node = self._group[path]
        if not isinstance(node, Dataset):
            raise FormatError(f"Cached specification {self._group.name}/{path} is not a dataset.")
        value = node[()]
        if isinstance(value, np.ndarray) and value.shape == (1,):
            value = value[0]
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        try:
            return json.loads(value)
        except (TypeError, json.JSONDecodeError) as exc:
            raise FormatError(f"Cached specification {self._group.name}/{path} is not JSON: {exc}") from exc

    def read_spec(self, spec_path: str) -> Any:
        """Return one parsed schema source."""
        return self._read(spec_path)

    def read_namespace(self, ns_path: str) -> Any:
        """Return the ``namespaces`` list of the cached namespace document."""
        if self._namespace is None:
            self._namespace = self._read(ns_path)
        return self._namespace["namespaces"]


def spec_group(file: File) -> Group | None:
    """Return the group the root ``.specloc`` attribute points to, or None."""
    loc = file.attrs.get(SPEC_LOC_ATTR)
    if loc is None:
        return None
    path = loc.path if isinstance(loc, Reference) else str(loc)
    node = file.get(path)
    return node if isinstance(node, Group) else None


def _latest(versions: list[str]) -> str:
    modern = [v for v in versions if v not in _LEGACY_VERSIONS]
    return sorted(modern or versions)[-1]


def cached_namespace_versions(file: File) -> dict[str, str]:
    """Return ``{namespace: latest cached version}`` (alphanumeric order, as ``HDF5IO``)."""
    group = spec_group(file)
    if group is None:
        return {}
    out: dict[str, str] = {}
    for name in group.keys():
        ns = group.get(name)
        if isinstance(ns, Group) and len(ns):
            out[name] = _latest(ns.keys())
    return out


def load_cached_namespaces(
    catalog: NamespaceCatalog | TypeMap, file: File, namespaces: list[str] | None = None
) -> dict[str, Any]:
    """Load the cached namespaces of ``file`` into ``catalog`` (a catalog or a type map)."""
    group = spec_group(file)
    if group is None:
        return {}
    versions = cached_namespace_versions(file)
    readers = {}
    for ns in namespaces if namespaces is not None else list(versions):
        if ns not in versions:
            raise KeyError(f"Namespace {ns!r} is not cached in {file.filename} (cached: {sorted(versions)}).")
        ns_group = group[f"{ns}/{versions[ns]}"]
        assert isinstance(ns_group, Group)
        readers[ns] = LindiSpecReader(ns_group)
    return dict(catalog.load_namespaces(NAMESPACE_PATH, reader=readers))


class LindiSpecWriter(SpecWriter):
    """Writes specifications as scalar JSON strings into one ``<namespace>/<version>`` group."""

    def __init__(self, group: Group) -> None:
        self._group = group

    def _write(self, obj: Any, name: str) -> None:
        text = json.dumps(obj, separators=(",", ":"))
        self._group.create_dataset(name, data=text, dtype=string_dtype())

    def write_spec(self, spec: Any, path: str) -> None:
        """Store one schema source."""
        self._write(spec, path)

    def write_namespace(self, namespace: Any, path: str) -> None:
        """Store the namespace document."""
        self._write({"namespaces": [namespace]}, path)


def cache_namespaces(file: File, catalog: NamespaceCatalog) -> None:
    """Cache every namespace of ``catalog`` under ``/specifications`` (versions already there kept).

    Sets the root ``.specloc`` attribute to a reference to the group, as ``HDF5IO`` does.
    """
    group = spec_group(file)
    if group is None:
        group = file.require_group("specifications")
        file.attrs[SPEC_LOC_ATTR] = group.ref
    for name in catalog.namespaces:
        namespace = catalog.get_namespace(name)
        target = f"{name}/{namespace.version}"
        if target in group:
            continue
        ns_group = group.require_group(target)
        builder = NamespaceToBuilderHelper.convert_namespace(catalog, name)
        builder.export(NAMESPACE_PATH, writer=LindiSpecWriter(ns_group))
