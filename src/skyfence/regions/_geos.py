"""One lock around the queries of shared prepared geometries.

GEOS builds a prepared geometry's indexes lazily, on its first queries, and does not guard
that (libgeos/geos#825); shapely releases the GIL inside its predicates. So two threads that
query one prepared geometry at once (a service answering single decisions on its event loop
and batches in worker threads) can corrupt the heap: four threads deciding batches on one
engine crashed the interpreter every time before this lock, and never after. Every query of
a geometry that other threads may hold (a region's, a country index's pieces, the single
decision's cell cache) is made holding :data:`PREPARED`; a query costs microseconds to
milliseconds, so holding it serialises little.
"""

from __future__ import annotations

import threading

__all__ = ["PREPARED"]

PREPARED = threading.RLock()
