"""hdmf backend: LindiIO reads (and writes) hdmf builders on the LINDI tree."""

from .dataio import LindiDataIO
from .datasets import (
    BuilderLindiReferenceDataset,
    BuilderLindiTableDataset,
    ContainerLindiReferenceDataset,
    ContainerLindiTableDataset,
    LindiDataset,
)
from .io import LindiIO

__all__ = [
    "BuilderLindiReferenceDataset",
    "BuilderLindiTableDataset",
    "ContainerLindiReferenceDataset",
    "ContainerLindiTableDataset",
    "LindiDataIO",
    "LindiDataset",
    "LindiIO",
]
