"""The ``dask.distributed`` worker plugin of hdmf-lindi (imported by ``hdmf_lindi.dask`` on demand)."""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin

from .storage import RemoteOptions
from .tree.handle import OPEN_FILES, configure

__all__ = ["LindiWorkerPlugin"]


class LindiWorkerPlugin(WorkerPlugin):
    """A ``dask.distributed`` worker plugin: remote options per worker, files closed at teardown.

    Register with ``client.register_plugin(LindiWorkerPlugin(...))``.

    Parameters
    ----------
    options
        Remote options that files reopened on the worker use instead of the ones their handles
        carry (e.g. a worker-local ``cache_dir``); None keeps the handles' own.
    file_cache_size
        Bound of each worker's cache of open files (None keeps the default, 128).
    """

    name = "hdmf-lindi"

    def __init__(self, options: RemoteOptions | None = None, file_cache_size: int | None = None) -> None:
        self.options = options
        self.file_cache_size = file_cache_size

    def setup(self, worker: Any) -> None:
        """Apply the options on the worker (files it has open reopen with them)."""
        OPEN_FILES.close_all()
        configure(options=self.options, file_cache_size=self.file_cache_size)

    def teardown(self, worker: Any) -> None:
        """Close the worker's cached files and forget the options."""
        OPEN_FILES.close_all()
        configure(options=None)
