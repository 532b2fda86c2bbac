"""ReferenceMap: the kerchunk-style ``refs`` document at the heart of every LINDI file.

A reference map maps Zarr v2 store keys to their content. Four kinds of value are accepted
(``lindi-format.md`` §2.2): plain text (the UTF-8 bytes of the string), ``base64:`` text, an
embedded JSON object (its JSON serialisation), and a ``[url, offset, length]`` byte range.
Templates (``{{name}}`` in a url) are expanded on read and introduced on write for urls that
are used often, as lindi does.

No I/O: parsing and serialising work on bytes and dicts.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple, TypeAlias

from ..errors import ReferenceMapError

__all__ = ["RangeRef", "RefValue", "ReferenceMap", "encode_inline"]

RefValue: TypeAlias = str | dict[str, Any] | list[Any]
"""A raw value of the ``refs`` object, as it appears in the JSON document."""

_TEMPLATE_RE = re.compile(r"\{\{([^{}]*)\}\}")
_BASE64_PREFIX = "base64:"
_TEMPLATE_MIN_USES = 5  # lindi's threshold: a url used this often becomes a template
_KNOWN_TOP_KEYS = frozenset({"refs", "version", "templates", "generationMetadata"})
_INDENT_MAX_REFS = 5000  # above this many refs the document is written compactly


class RangeRef(NamedTuple):
    """A byte range ``[offset, offset + length)`` of the resource named by ``url``.

    A named tuple rather than a frozen dataclass: one is built per chunk read, and tuples are
    several times cheaper to construct.
    """

    url: str
    """The template-expanded url (an http(s) URL, a local path, or ``./NAME`` in the container)."""
    offset: int
    """First byte (inclusive)."""
    length: int
    """Number of bytes."""

    @property
    def is_internal(self) -> bool:
        """Whether the url names a blob inside the same container (``./NAME``)."""
        return self.url.startswith("./")


def encode_inline(data: bytes) -> str:
    """Encode raw bytes as an inline ``refs`` string, following lindi's writer rule.

    ASCII content that does not start with ``base64:`` is stored as text (JSON escaping handles
    control bytes); anything else is ``base64:`` encoded.
    """
    if data.isascii() and not data.startswith(b"base64:"):
        return data.decode("ascii")
    return _BASE64_PREFIX + base64.b64encode(data).decode("ascii")


def _where(source: str | None) -> str:
    return f" in {source}" if source else ""


class ReferenceMap:
    """A validated, mutable reference map.

    Parameters
    ----------
    refs
        Store key -> raw value. Values are validated.
    templates
        Template name -> url.
    generation_metadata
        Free-form provenance, written as ``generationMetadata``.
    extra
        Unknown top-level keys, preserved on write.
    source
        Where the document came from, used in error messages only.

    Raises
    ------
    ReferenceMapError
        If a value has a shape the format does not allow, or a url names an unknown template.
    """

    def __init__(
        self,
        refs: Mapping[str, RefValue] | None = None,
        *,
        templates: Mapping[str, str] | None = None,
        generation_metadata: Any = None,
        extra: Mapping[str, Any] | None = None,
        source: str | None = None,
    ) -> None:
        self.source = source
        self.templates: dict[str, str] = dict(templates or {})
        for name, url in self.templates.items():
            if not isinstance(url, str):
                raise ReferenceMapError(
                    f"Template {name!r}{_where(source)} must map to a string url, got "
                    f"{type(url).__name__}. Fix the 'templates' object of the document."
                )
        self.generation_metadata = generation_metadata
        self.extra: dict[str, Any] = dict(extra or {})
        self._refs: dict[str, RefValue] = {}
        for key, value in (refs or {}).items():
            self._check_value(key, value)
            self._refs[key] = value
        self.dirty = False
        """Whether the map changed since it was loaded or last marked clean."""

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_json(cls, data: bytes | str, *, source: str | None = None) -> ReferenceMap:
        """Parse a LINDI JSON document (trailing spaces and NULs of tar slots allowed).

        Raises
        ------
        ReferenceMapError
            If the text is not JSON, has no ``refs`` object, or any value is malformed.
        """
        if isinstance(data, bytes):
            data = data.rstrip(b" \x00\n\r\t")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ReferenceMapError(
                    f"LINDI document{_where(source)} is not UTF-8 text (byte {exc.start}). "
                    "Is this really a .lindi.json file?"
                ) from exc
        else:
            text = data
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReferenceMapError(
                f"LINDI document{_where(source)} is not valid JSON: {exc.msg} at line "
                f"{exc.lineno} column {exc.colno}. The file may be truncated or not a LINDI file."
            ) from exc
        return cls.from_dict(doc, source=source)

    @classmethod
    def from_dict(cls, doc: Any, *, source: str | None = None) -> ReferenceMap:
        """Build a map from a parsed JSON document.

        Raises
        ------
        ReferenceMapError
            If the document is not an object with a ``refs`` object, or a value is malformed.
        """
        if not isinstance(doc, dict):
            raise ReferenceMapError(
                f"LINDI document{_where(source)} must be a JSON object, got "
                f"{type(doc).__name__}."
            )
        refs = doc.get("refs")
        if not isinstance(refs, dict):
            raise ReferenceMapError(
                f"LINDI document{_where(source)} has no 'refs' object (got "
                f"{type(refs).__name__}). Version-0 kerchunk documents are not supported; "
                "wrap the mapping as {\"version\": 1, \"refs\": {...}}."
            )
        templates = doc.get("templates")
        templates = {} if templates is None else templates
        if not isinstance(templates, dict):
            raise ReferenceMapError(
                f"'templates'{_where(source)} must be an object, got {type(templates).__name__}."
            )
        extra = {k: v for k, v in doc.items() if k not in _KNOWN_TOP_KEYS}
        return cls(
            refs,
            templates=templates,
            generation_metadata=doc.get("generationMetadata"),
            extra=extra,
            source=source,
        )

    def _check_value(self, key: str, value: Any) -> None:
        kind = type(value)
        if type(key) is str and key[:1] != "/":  # hot path: well-formed values
            if kind is str or kind is dict:
                return
            if (
                kind is list
                and len(value) == 3
                and type(value[0]) is str
                and type(value[1]) is int
                and type(value[2]) is int
                and value[1] >= 0
                and value[2] >= 0
                and "{{" not in value[0]
            ):
                return
        if not isinstance(key, str) or key.startswith("/"):
            raise ReferenceMapError(
                f"Store key {key!r}{_where(self.source)} is invalid: keys are strings without "
                "a leading '/'."
            )
        if isinstance(value, str | dict):
            return
        if isinstance(value, list):
            if (
                len(value) == 3
                and isinstance(value[0], str)
                and type(value[1]) is int
                and type(value[2]) is int
            ):
                if value[1] < 0 or value[2] < 0:
                    raise ReferenceMapError(
                        f"Reference {key!r}{_where(self.source)} has a negative offset or "
                        f"length: {value!r}."
                    )
                if "{{" in value[0]:
                    self._expand(value[0], key)
                return
            raise ReferenceMapError(
                f"Reference {key!r}{_where(self.source)} must be [url, offset, length] with "
                f"integer offset and length; got {json.dumps(value)[:200]}."
            )
        raise ReferenceMapError(
            f"Value of {key!r}{_where(self.source)} must be a string, an object or "
            f"[url, offset, length]; got {type(value).__name__} ({json.dumps(value)[:80]})."
        )

    def _expand(self, url: str, key: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            try:
                return self.templates[name]
            except KeyError:
                raise ReferenceMapError(
                    f"Reference {key!r}{_where(self.source)} uses template {{{{{name}}}}}, "
                    f"which is not defined (known templates: {sorted(self.templates)})."
                ) from None

        return _TEMPLATE_RE.sub(substitute, url)

    # ------------------------------------------------------------------ access
    def __contains__(self, key: object) -> bool:
        return key in self._refs

    def __len__(self) -> int:
        return len(self._refs)

    def __iter__(self) -> Iterator[str]:
        return iter(self._refs)

    def keys(self) -> list[str]:
        """Return all store keys, in insertion order."""
        return list(self._refs)

    def raw(self, key: str) -> RefValue:
        """Return the raw value stored for ``key``.

        Raises
        ------
        KeyError
            If the key is absent.
        """
        return self._refs[key]

    def get(self, key: str) -> bytes | RangeRef | None:
        """Return the inline bytes or the byte range stored for ``key``, or None if absent.

        Raises
        ------
        ReferenceMapError
            If a ``base64:`` value does not decode.
        """
        value = self._refs.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            if value.startswith(_BASE64_PREFIX):
                try:
                    return base64.b64decode(value[len(_BASE64_PREFIX):], validate=True)
                except binascii.Error as exc:
                    raise ReferenceMapError(
                        f"Value of {key!r}{_where(self.source)} is not valid base64: {exc}."
                    ) from exc
            return value.encode("utf-8")
        if isinstance(value, dict):
            return json.dumps(value).encode("utf-8")
        url = value[0]
        if "{{" in url:
            url = self._expand(url, key)
        return RangeRef(url, value[1], value[2])

    def get_json(self, key: str) -> Any:
        """Return the parsed JSON content of a metadata key, or None if absent.

        Raises
        ------
        ReferenceMapError
            If the content is not JSON.
        """
        value = self._refs.get(key)
        if value is None:
            return None
        if isinstance(value, dict):
            return value
        content = self.get(key)
        if isinstance(content, RangeRef):
            raise ReferenceMapError(
                f"Metadata key {key!r}{_where(self.source)} is a byte-range reference; LINDI "
                "metadata must be inline."
            )
        try:
            return json.loads(content or b"")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ReferenceMapError(
                f"Metadata key {key!r}{_where(self.source)} does not hold valid JSON: {exc}."
            ) from exc

    # ------------------------------------------------------------------ mutation
    def set_bytes(self, key: str, data: bytes) -> None:
        """Store raw bytes inline (text or ``base64:``)."""
        self._refs[key] = encode_inline(data)
        self.dirty = True

    def set_json(self, key: str, obj: dict[str, Any]) -> None:
        """Store a metadata object inline as an embedded JSON object."""
        self._refs[key] = obj
        self.dirty = True

    def set_range(self, key: str, url: str, offset: int, length: int) -> None:
        """Store a ``[url, offset, length]`` reference."""
        self._refs[key] = [url, int(offset), int(length)]
        self.dirty = True

    def set_raw(self, key: str, value: RefValue) -> None:
        """Store a raw value after validating it.

        Raises
        ------
        ReferenceMapError
            If the value is malformed.
        """
        self._check_value(key, value)
        self._refs[key] = value
        self.dirty = True

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        if self._refs.pop(key, None) is not None:
            self.dirty = True

    # ------------------------------------------------------------------ serialising
    def to_dict(self, *, use_templates: bool = True) -> dict[str, Any]:
        """Return the JSON document, with ``"version": 1`` and templates for frequent urls."""
        refs: dict[str, RefValue] = dict(self._refs)
        templates = dict(self.templates)
        if use_templates:
            self._introduce_templates(refs, templates)
        doc: dict[str, Any] = dict(self.extra)
        doc["version"] = 1
        if templates:
            doc["templates"] = templates
        if self.generation_metadata is not None:
            doc["generationMetadata"] = self.generation_metadata
        doc["refs"] = refs
        return doc

    def to_json(self) -> bytes:
        """Serialise to ASCII JSON with sorted keys (indented unless the map is large)."""
        indent = 2 if len(self._refs) <= _INDENT_MAX_REFS else None
        separators = (",", ": ") if indent else (",", ":")
        text = json.dumps(
            self.to_dict(), indent=indent, sort_keys=True, separators=separators, allow_nan=False
        )
        return text.encode("ascii")

    @staticmethod
    def _introduce_templates(refs: dict[str, RefValue], templates: dict[str, str]) -> None:
        counts = Counter(
            v[0] for v in refs.values() if isinstance(v, list) and "{{" not in v[0]
        )
        frequent = sorted(u for u, n in counts.items() if n >= _TEMPLATE_MIN_USES)
        if not frequent:
            return
        by_url = {url: name for name, url in templates.items()}
        next_index = 1
        for url in frequent:
            if url not in by_url:
                while f"u{next_index}" in templates:
                    next_index += 1
                templates[f"u{next_index}"] = url
                by_url[url] = f"u{next_index}"
        for key, value in refs.items():
            if isinstance(value, list) and value[0] in by_url and counts.get(value[0], 0) >= 5:
                refs[key] = ["{{" + by_url[value[0]] + "}}", value[1], value[2]]
