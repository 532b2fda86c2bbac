"""LINDI conventions over Zarr v2: metadata, dtypes, codecs, attributes, references. Pure."""

from .attrs import ANNOTATION_KEYS, decode_attr, encode_attr
from .dtypes import ref_dtype, string_dtype
from .references import ExternalLink, Reference, SoftLink
from .zarr_v2 import ArrayMeta

__all__ = [
    "ANNOTATION_KEYS",
    "ArrayMeta",
    "ExternalLink",
    "Reference",
    "SoftLink",
    "decode_attr",
    "encode_attr",
    "ref_dtype",
    "string_dtype",
]
