"""The application layer: one function per operation a user runs.

The CLI, the REST service and the map page are thin adapters over this package; nothing here
knows about JSON, terminals or HTTP. Every operation takes an :class:`~skyfence.app.context.App`
(settings built once per process, caches of what is expensive to build) and, where it changes
state, the :class:`Principal` acting. Rules that must hold whatever the interface — the
two-person rule, identities, sensitivity of a change — are enforced here and in the store
below it, never by a caller's flag.
"""

from skyfence.app.context import App

__all__ = ["App"]
