"""A Python client of the skyfence service: ``Client(url, token)`` over httpx.

Errors come back as the project's own: a 401 is an
:class:`~skyfence.errors.AuthenticationError`, 403 a
:class:`~skyfence.errors.PermissionDeniedError`, 404 :class:`~skyfence.errors.NotFoundError`,
409 :class:`~skyfence.errors.ConflictError`, other 4xx :class:`~skyfence.errors.InputError`,
with the server's message. :meth:`Client.fetch_log` downloads the whole log as an export
file that :func:`skyfence.store.verify_export` (``skyfence log verify``) checks offline.

Examples
--------
>>> client = Client("http://127.0.0.1:8000", token="sft_...")  # doctest: +SKIP
>>> client.decide("UT-1", 50.45, 30.52)["allowed"]  # doctest: +SKIP
False
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from skyfence.errors import (
    AuthenticationError,
    ConflictError,
    InputError,
    IntegrityError,
    NotFoundError,
    PermissionDeniedError,
    SkyfenceError,
)

__all__ = ["Client", "ServiceUnavailable"]

PAGE = 1000


class ServiceUnavailable(SkyfenceError, ConnectionError):
    """The service cannot be reached or answered with a 5xx."""

    code = "unavailable"
    http_status = 503


_BY_STATUS: dict[int, type[SkyfenceError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: InputError,
}


class Client:
    """The service at ``url``, acting with ``token`` (``None``: only the public log routes)."""

    def __init__(
        self, url: str, token: str | None = None, *, timeout: float = 60.0, transport: Any = None
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs: dict[str, Any] = {"base_url": url.rstrip("/"), "headers": headers}
        if transport is not None:
            kwargs["transport"] = transport
        self._http = httpx.Client(timeout=timeout, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"cannot reach {self._http.base_url}: {exc}") from None
        if response.status_code >= 400:
            raise _error(response)
        return response.json()

    # -- decisions ----------------------------------------------------------------------------
    def decide(
        self,
        terminal_id: str,
        latitude_deg: float,
        longitude_deg: float,
        *,
        speed_kmh: float | None = None,
        altitude_m: float | None = None,
        time: str | None = None,
    ) -> dict[str, Any]:
        """One decision, with the policy version, log index and checkpoint behind it."""
        body: dict[str, Any] = {
            "terminal_id": terminal_id,
            "latitude_deg": latitude_deg,
            "longitude_deg": longitude_deg,
        }
        for key, value in (("speed_kmh", speed_kmh), ("altitude_m", altitude_m), ("time", time)):
            if value is not None:
                body[key] = value
        out: dict[str, Any] = self._call("POST", "/v1/decisions", json=body)
        return out

    def decide_batch(
        self, rows: list[dict[str, Any]], *, time: str | None = None
    ) -> dict[str, Any]:
        """Decide many rows (dicts as :meth:`decide` takes them) in one request."""
        body: dict[str, Any] = {"rows": rows}
        if time is not None:
            body["time"] = time
        out: dict[str, Any] = self._call("POST", "/v1/decisions/batch", json=body)
        return out

    # -- policy changes ------------------------------------------------------------------------
    def propose(
        self,
        document: dict[str, Any],
        *,
        reason: str,
        base_version: int | None = None,
        request_review: bool = False,
        sign_with: str | Path | None = None,
    ) -> dict[str, Any]:
        """Propose ``document``; with ``sign_with`` (your own Ed25519 private key file, PEM)
        the request is signed here: the service's sealed form of the document is fetched,
        checked to say what ``document`` says, hashed here, and signed with the log's origin
        (see docs/transparency.md); the key never leaves this machine."""
        body: dict[str, Any] = {"document": document, "reason": reason}
        if base_version is not None:
            body["base_version"] = base_version
        if request_review:
            body["request_review"] = True
        if sign_with is not None:
            prep_body: dict[str, Any] = {"document": document}
            if base_version is not None:
                prep_body["base_version"] = base_version
            prep = self._call("POST", "/v1/policy/changes/prepare", json=prep_body)
            sealed = prep["document"]
            if _rules_of(sealed) != _rules_of(document):
                raise IntegrityError(
                    "the service's sealed form of the document does not say what was sent; "
                    "nothing was signed"
                )
            base = int(prep["base_version"])
            body["document"], body["base_version"] = sealed, base
            body["signature"] = self._sign(sign_with, base, sealed, prep.get("document_hash"))
        out: dict[str, Any] = self._call("POST", "/v1/policy/changes", json=body)
        return out

    def approve(
        self, change_id: int, *, reason: str = "", sign_with: str | Path | None = None
    ) -> dict[str, Any]:
        """Approve a pending change; with ``sign_with`` (your own Ed25519 private key file,
        PEM) the approval is signed here over the change's document as the service shows it
        (hashed here) and the version it was built on."""
        body: dict[str, Any] = {"reason": reason}
        if sign_with is not None:
            detail = self.change(change_id)
            if detail.get("status") != "pending":
                raise ConflictError(f"change {change_id} is {detail.get('status')}, not pending")
            base = int(detail["impact"]["base_version"])
            body["signature"] = self._sign(sign_with, base, detail["document"], None)
        out: dict[str, Any] = self._call(
            "POST", f"/v1/policy/changes/{int(change_id)}/approve", json=body
        )
        return out

    def _sign(
        self, key_file: str | Path, base: int, document: dict[str, Any], claimed: str | None
    ) -> dict[str, str]:
        import base64

        from skyfence.store.approvals import approval_message, sign_change
        from skyfence.store.canonical import canonical_hash
        from skyfence.store.rules import prepare_document

        stored, _ = prepare_document(document, source="the service's document")
        digest = canonical_hash(stored)
        if claimed is not None and claimed != digest:
            raise IntegrityError(
                f"the service says the document hashes to {claimed}, but it hashes to {digest}"
            )
        origin = self.checkpoint().get("origin")
        if not isinstance(origin, str) or not origin:
            raise IntegrityError(
                "the service's latest checkpoint names no log origin, so there is nothing to "
                "sign the change for; it must sign a C2SP checkpoint first"
            )
        public, signature = sign_change(key_file, approval_message(origin, base, digest))
        return {
            "public_key": base64.b64encode(public).decode(),
            "signature": base64.b64encode(signature).decode(),
        }

    def register_key(self, public_key: str, *, reason: str) -> dict[str, Any]:
        """Register your own Ed25519 public key (PEM, base64 or hex text) for signing."""
        out: dict[str, Any] = self._call(
            "POST", "/v1/policy/keys", json={"public_key": public_key, "reason": reason}
        )
        return out

    def reject(self, change_id: int, *, reason: str = "") -> dict[str, Any]:
        out: dict[str, Any] = self._call(
            "POST", f"/v1/policy/changes/{int(change_id)}/reject", json={"reason": reason}
        )
        return out

    def pending(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self._call("GET", "/v1/policy/changes?state=pending")
        return out

    def change(self, change_id: int) -> dict[str, Any]:
        """A change with its document and impact."""
        out: dict[str, Any] = self._call("GET", f"/v1/policy/changes/{int(change_id)}")
        return out

    def policy(self) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", "/v1/policy")
        return out

    # -- the log (public) ---------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", "/v1/log/checkpoint")
        return out

    def entries(self, start: int, end: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self._call(
            "GET", "/v1/log/entries", params={"start": start, "end": end}
        )["entries"]
        return out

    def public_key(self) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", "/v1/log/public-key")
        return out

    def fetch_log(self, path: str | Path) -> dict[str, Any]:
        """Download the log up to the latest checkpoint as an export file (JSON Lines, the
        format of ``skyfence log export``); returns the checkpoint it ends at."""
        from skyfence.files import write_text_atomic

        checkpoint = self.checkpoint()
        size = int(checkpoint["tree_size"])
        keys = self.public_key()["keys"]
        lines = [
            {
                "type": "header",
                "format": "skyfence-transparency-log",
                "version": 1,
                "exported_at": checkpoint["time"],
                "tree_size": size,
                "root_hash": checkpoint["root_hash"],
                "public_keys": [
                    {k: key[k] for k in ("key_id", "algorithm", "public_key", "status")}
                    for key in keys
                ],
            }
        ]
        for start in range(0, size, PAGE):
            for e in self.entries(start, min(size, start + PAGE)):
                lines.append(
                    {
                        "type": "entry",
                        "index": e["index"],
                        "leaf_hash": e["leaf_hash"],
                        "entry": e["entry"],
                    }  # fmt: skip
                )
        if len(lines) - 1 != size:
            raise IntegrityError(f"the service sent {len(lines) - 1} entries for {size}")
        lines.append(
            {
                "type": "checkpoint",
                **{
                    k: checkpoint[k]
                    for k in ("tree_size", "root_hash", "time", "key_id", "signature")
                },
            }  # fmt: skip
        )
        text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in lines)
        write_text_atomic(Path(path), text)
        return checkpoint


def _rules_of(document: dict[str, Any]) -> Any:
    """A document's normalised form without its seals (what sealing must not change)."""
    from skyfence.store.rules import prepare_document

    stored, _ = prepare_document(document, source="the policy document")
    return {k: v for k, v in stored.items() if k != "sealed"}


def _error(response: httpx.Response) -> SkyfenceError:
    try:
        error = response.json()["error"]
        message = str(error["message"])
    except (ValueError, KeyError, TypeError):
        message = response.text[:200] or response.reason_phrase
    status = response.status_code
    if status >= 500:
        return ServiceUnavailable(f"the service answered {status}: {message}")
    cls = _BY_STATUS.get(status, InputError)
    return cls(message)
