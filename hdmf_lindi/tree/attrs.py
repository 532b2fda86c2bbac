"""The ``attrs`` of a group or dataset: an h5py-flavoured mapping over ``.zattrs``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import NodeNotFoundError, UnsupportedError
from ..format.attrs import ANNOTATION_KEYS, apply_dtype_tag, decode_attr, dtype_tag, encode_attr
from .state import _FileState, _join

__all__ = ["AttributeManager"]


class AttributeManager:
    """The ``attrs`` of a group or dataset, like h5py's: a mutable mapping of name -> value."""

    def __init__(self, state: _FileState, path: str) -> None:
        self._state = state
        self._path = path

    def _raw(self) -> dict[str, Any]:
        self._state.check_open()
        return self._state.zattrs(self._path)

    def _visible(self) -> dict[str, Any]:
        return {k: v for k, v in self._raw().items() if k not in ANNOTATION_KEYS}

    def __getitem__(self, name: str) -> Any:
        raw = self._visible()
        if name not in raw:
            raise NodeNotFoundError(
                f"Attribute {name!r} does not exist on '/{self._path}' (attributes: {sorted(raw)[:20]})."
            )
        return apply_dtype_tag(decode_attr(raw[name], name), self._state.attr_dtypes(self._path).get(name))

    def get(self, name: str, default: Any = None) -> Any:
        """Return the attribute value, or ``default`` if absent."""
        try:
            return self[name]
        except KeyError:
            return default

    def __setitem__(self, name: str, value: Any) -> None:
        self._state.check_writable()
        if name in ANNOTATION_KEYS:
            raise UnsupportedError(f"Attribute name {name!r} is reserved by the LINDI format.")
        encoded = encode_attr(value, name)
        raw = dict(self._raw())
        raw[name] = encoded
        self._state.container.set_metadata(_join(self._path, ".zattrs"), raw)
        self._state.record_attr_dtype(self._path, name, dtype_tag(value))

    def create(self, name: str, data: Any, shape: Any = None, dtype: Any = None) -> None:
        """Create an attribute (h5py's signature; ``shape`` and ``dtype`` reshape/cast data)."""
        value = np.asarray(data, dtype=dtype) if dtype is not None else data
        if shape is not None:
            value = np.reshape(value, shape)
        self[name] = value

    def modify(self, name: str, value: Any) -> None:
        """Set an attribute, keeping the type and shape of an existing one (h5py's ``modify``).

        An existing numeric or boolean attribute keeps its dtype (a value it cannot hold is an
        ``OverflowError``, as in h5py) and its shape (one element fits ``()`` and ``(1,)``;
        another shape is a ``TypeError``). Other attributes, and new names, are set as
        ``attrs[name] = value``.
        """
        old = self.get(name)
        if isinstance(old, str) and not isinstance(value, str | bytes):
            raise TypeError(f"Can't implicitly convert non-string objects to strings (attribute {name!r}).")
        if isinstance(old, np.ndarray | np.generic) and old.dtype.kind in "biuf":
            new = np.asarray(value, dtype=old.dtype)
            if new.shape != np.shape(old):
                if new.size != 1 or np.size(old) != 1:
                    raise TypeError(f"Shape of data {new.shape} is incompatible with attribute {name!r} {np.shape(old)}.")
                new = new.reshape(np.shape(old))
            value = new[()] if new.ndim == 0 else new
        self[name] = value

    def __delitem__(self, name: str) -> None:
        self._state.check_writable()
        raw = dict(self._raw())
        if name not in raw or name in ANNOTATION_KEYS:
            raise NodeNotFoundError(f"Attribute {name!r} does not exist on '/{self._path}'.")
        del raw[name]
        self._state.container.set_metadata(_join(self._path, ".zattrs"), raw)
        self._state.record_attr_dtype(self._path, name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._visible()

    def __iter__(self) -> Iterator[str]:
        return iter(self._visible())

    def __len__(self) -> int:
        return len(self._visible())

    def keys(self) -> list[str]:
        """Return the attribute names."""
        return list(self._visible())

    def values(self) -> list[Any]:
        """Return the decoded attribute values."""
        return [v for _, v in self.items()]

    def items(self) -> list[tuple[str, Any]]:
        """Return ``(name, value)`` pairs."""
        tags = self._state.attr_dtypes(self._path)
        if not tags:
            return [(k, decode_attr(v, k)) for k, v in self._visible().items()]
        return [(k, apply_dtype_tag(decode_attr(v, k), tags.get(k))) for k, v in self._visible().items()]

    def __repr__(self) -> str:
        return f"<Attributes of '/{self._path}' ({len(self)} members)>"
