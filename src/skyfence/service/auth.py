"""Who is asking: the principal comes from the bearer token, and only from it.

``Authorization: Bearer sft_...`` is checked by :func:`skyfence.app.tokens.authenticate`
(unknown, expired and revoked tokens are refused with 401). The roles the token holds are
enforced by the application layer itself (403). Each token — and, for the public routes,
each client address — has its own rate limit: a token bucket that answers 429 with
``Retry-After`` when empty.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from skyfence.app.identity import Principal
from skyfence.errors import AuthenticationError
from skyfence.service.errors import ServiceError

__all__ = ["RateLimiter", "CurrentPrincipal", "PublicReader", "current_principal", "public_reader"]

_bearer = HTTPBearer(auto_error=False, description="An API token: `skyfence token create`.")


class RateLimiter:
    """Token buckets keyed by credential: ``rate`` requests per second, bursts of ``burst``.

    ``rate`` <= 0 switches limiting off. Thread-safe; the number of buckets is bounded.
    """

    MAX_KEYS = 100_000

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, 2 * rate))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Take one request from ``key``'s bucket, or raise 429 with Retry-After."""
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                wait = math.ceil((1.0 - tokens) / self.rate)
                self._buckets[key] = (tokens, now)
                raise ServiceError(
                    429,
                    f"too many requests: the limit is {self.rate:g} per second "
                    f"(bursts of {self.burst:g}); retry after {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
                self._buckets.clear()
            self._buckets[key] = (tokens - 1.0, now)

    def refund(self, key: str) -> None:
        """Give back the request just taken from ``key``'s bucket (it is answered, and
        charged, elsewhere)."""
        if self.rate <= 0:
            return
        with self._lock:
            found = self._buckets.get(key)
            if found is not None:
                self._buckets[key] = (min(self.burst, found[0] + 1.0), found[1])


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The principal of the request's bearer token (401 without a valid one).

    Runs on the event loop, not in a worker thread: checking a token is one indexed read
    (none while the log head is unchanged), cheaper than the hand-off to a thread."""
    from skyfence.app.tokens import authenticate

    if credentials is None or credentials.scheme.lower() != "bearer":
        _limiter(request).check(f"addr:{_client(request)}")
        raise AuthenticationError(
            "this route needs an API token: send 'Authorization: Bearer sft_...' "
            "(an admin makes one with `skyfence token create`)"
        )
    key = hashlib.sha256(credentials.credentials.encode("utf-8", "replace")).hexdigest()[:32]
    _limiter(request).check(f"token:{key}")
    principal = authenticate(request.app.state.skyfence, credentials.credentials)
    request.state.principal = principal.name
    return principal


async def public_reader(request: Request) -> Principal:
    """The principal of a public route (the log): an anonymous reader, rate-limited per
    client address."""
    _limiter(request).check(f"addr:{_client(request)}")
    anonymous: Principal = request.app.state.anonymous
    return anonymous


def _client(request: Request) -> str:
    client: Any = request.client
    return str(client.host) if client is not None else "unknown"


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
PublicReader = Annotated[Principal, Depends(public_reader)]
