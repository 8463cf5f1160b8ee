"""Work beyond one process: the one way skyfence runs independent shards in parallel.

* :mod:`skyfence.scale.runner` — :class:`Parallel` (here, local processes, or Dask: a
  ``LocalCluster`` or a scheduler address) and the :class:`Runner` that runs shards and
  returns their results in order;
* :mod:`skyfence.scale.checkpoint` — sweep directories: shards written atomically, a manifest
  of what is done, inputs hashed so a changed input is never resumed;
* :mod:`skyfence.scale.sweep` — the coverage sweep sharded by time window and cell block, and
  its exact merge; :mod:`skyfence.scale.outputs` — its GeoParquet files and map.

Dask is imported only when a Dask backend is asked for.
"""

from skyfence.scale.runner import Parallel, Runner, open_runner

__all__ = ["Parallel", "Runner", "open_runner"]
