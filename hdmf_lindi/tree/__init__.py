"""h5py-flavoured nodes over a LINDI container: the non-NWB API."""

from .attrs import AttributeManager
from .dataset import Dataset
from .file import File
from .group import Group, HardLink

__all__ = ["AttributeManager", "Dataset", "File", "Group", "HardLink"]
