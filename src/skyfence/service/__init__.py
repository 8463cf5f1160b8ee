"""skyfence as a service: a FastAPI app over :mod:`skyfence.app` (``skyfence serve``).

:func:`create_app` builds the app; every route calls one application-layer function with a
:class:`~skyfence.app.identity.Principal` made from the request's API token. See
``docs/service.md``.
"""

from skyfence.service.app import ServiceLimits, create_app

__all__ = ["create_app", "ServiceLimits"]
