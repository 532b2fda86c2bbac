"""Many files: index or convert them in parallel, resumably, and read one table across them.

This package only *schedules* work the layers below already do (``index_hdf5``, ``convert``,
``File`` reads) on any ``concurrent.futures`` executor.
"""

from ..storage.dandi_api import DandiAsset, list_assets
from .dandiset import index_dandiset
from .records import BatchRecord, read_manifest
from .schedule import convert_many, index_many, verify_many
from .table import read_table, read_table_one

__all__ = ["BatchRecord", "DandiAsset", "convert_many", "index_dandiset", "index_many", "list_assets", "read_manifest",
           "read_table", "read_table_one", "verify_many"]
