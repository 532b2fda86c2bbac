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
from .ragged import install_precision_hook

install_precision_hook()  # VectorIndex widens LindiDatasets on append (ragged.py)

__all__ = [
    "BuilderLindiReferenceDataset",
    "BuilderLindiTableDataset",
    "ContainerLindiReferenceDataset",
    "ContainerLindiTableDataset",
    "LindiDataIO",
    "LindiDataset",
    "LindiIO",
]
