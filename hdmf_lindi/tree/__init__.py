"""h5py-flavoured nodes over a LINDI container: the non-NWB API."""

from .nodes import AttributeManager, Dataset, File, Group, HardLink

__all__ = ["AttributeManager", "Dataset", "File", "Group", "HardLink"]
