"""``POST /v1/decisions`` answered without the framework's routing, when it can be.

A terminal gateway asks for single decisions hundreds of times a second; FastAPI's routing,
dependency solving and body handling cost more CPU than the decision itself. This ASGI
middleware answers the common case directly, with the same pieces the route uses: the
bearer token checked by :func:`skyfence.app.tokens.authenticate`, the token's rate limit,
the body validated by :class:`~skyfence.service.schemas.DecisionRequest`, the decision and
its body built by the route's own function.

Anything else goes to the route, with the body replayed: a missing, malformed or refused
token, an invalid body, another content type, a refused decision, the rate limit reached.
The route then answers as it always does (the error envelope, 401, 403, 422, 429), so the
fast path can only ever answer what the route would answer with 200, and a test compares
the two on many requests, valid and not.
"""

from __future__ import annotations

from typing import Any

from skyfence.service.middleware import send_json

__all__ = ["DecisionFastPath"]

PATH = "/v1/decisions"


class DecisionFastPath:
    """Answers valid single decisions of known tokens; passes everything else on."""

    def __init__(self, app: Any, api: Any) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        answer = self._answer(scope, body)
        if answer is None:
            await self.app(scope, _replay(body, receive), send)
            return
        await send_json(send, 200, answer)

    def _answer(self, scope: dict[str, Any], body: bytes) -> bytes | None:
        """The 200 body, or ``None`` for the route to answer."""
        import hashlib

        from pydantic import ValidationError

        from skyfence.app._store import one_head
        from skyfence.app.tokens import authenticate
        from skyfence.errors import SkyfenceError
        from skyfence.service import _json
        from skyfence.service.errors import ServiceError
        from skyfence.service.routes_decisions import decision_body
        from skyfence.service.schemas import DecisionRequest

        token = ctype = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                token = value
            elif key == b"content-type":
                ctype = value
        if token is None or ctype is None or ctype.split(b";")[0].strip() != b"application/json":
            return None
        scheme, _, credentials = token.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not credentials:
            return None
        try:
            request = DecisionRequest.model_validate_json(body)
        except ValidationError:
            return None
        state = self.api.state
        with one_head(state.skyfence):  # the token and the policy: one read of the head
            try:
                principal = authenticate(state.skyfence, credentials)
            except SkyfenceError:
                return None
            key = hashlib.sha256(credentials.encode("utf-8", "replace")).hexdigest()[:32]
            limiter = state.rate_limiter
            try:
                limiter.check(f"token:{key}")
            except ServiceError:  # the route takes nothing more from an empty bucket
                return None
            try:
                return _json.dumps(decision_body(state.skyfence, request, principal))
            except SkyfenceError:
                limiter.refund(f"token:{key}")  # the route charges this request itself
                return None


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: dict[str, Any] = await receive()
        return message

    return replay
