"""The application layer: one function per operation a user runs.

The CLI, the REST service and the map page are thin adapters over this package; nothing here
knows about JSON, terminals or HTTP. Every operation takes an :class:`~skyfence.app.context.App`
(settings built once per process, caches of what is expensive to build) and, where it changes
state, the :class:`Principal` acting. Rules that must hold whatever the interface — the
two-person rule, identities, sensitivity of a change — are enforced here and in the store
below it, never by a caller's flag.

Operations (each module imports what it needs when called):

* :mod:`skyfence.app.network` — ``visible_satellites``, ``city_rtt``, ``terminal_schedule``,
  ``hypatia_route``, ``export_hypatia``; and ``load_constellation`` / ``load_network``, the
  one way every operation builds its network.
* :mod:`skyfence.app.regions` — ``lookup_point``, ``show_region``, ``list_regions``.
* :mod:`skyfence.app.whatif` — ``whatif`` (activate / deactivate, with its report) and
  ``coverage``.
* :mod:`skyfence.app.demo` — ``demo``.

Long operations take ``progress(done, total)``; results are dataclasses (``to_dict()`` where
the JSON form differs from the fields).
"""

from skyfence.app.context import App

__all__ = ["App"]
