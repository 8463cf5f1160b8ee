"""The service's witnessing: each new checkpoint goes to the configured witnesses, off the
request path.

A :class:`WitnessPublisher` runs one background thread per process. The service pokes it
after every request that may have written (a new checkpoint is signed by every write), and
it also looks for new checkpoints every ``poll_s`` seconds (writes by other processes, and
retries of witnesses that failed). Each round submits the latest checkpoint to every
witness that has not cosigned it yet (all at once, each bounded by ``timeout_s``), keeps the
cosignatures (:mod:`skyfence.store.witnessing`; the tiles ``checkpoint`` and
``GET /v1/log/checkpoint`` publish them) and records per witness what happened
(:meth:`WitnessPublisher.status`; ``GET /v1/log/witnesses``). A witness that is down or
refuses is logged (logger ``skyfence.witness``) and shown there; it never delays or fails
the write that made the checkpoint.

Examples
--------
>>> from skyfence.app import App
>>> from skyfence.settings import load_settings
>>> import tempfile
>>> app = App(load_settings(data_dir=tempfile.mkdtemp()))
>>> WitnessPublisher.for_app(app) is None  # no witnesses configured
True
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from skyfence.app._store import open_store

if TYPE_CHECKING:
    from skyfence.app.context import App
    from skyfence.store.witnessing import WitnessOutcome

__all__ = ["WitnessPublisher", "WitnessState", "POLL_S", "TIMEOUT_S"]

POLL_S = 30.0
"""Seconds between looks for checkpoints no poke announced (and retries)."""
TIMEOUT_S = 5.0
"""Seconds one witness may take to answer one submission."""

logger = logging.getLogger("skyfence.witness")


@dataclass(frozen=True)
class WitnessState:
    """What one witness did with the log's checkpoints, as this process saw it.

    ``cosigned_size``: the largest tree size it cosigned; ``error``: its last refusal or
    failure (``None`` after a cosignature); times are UTC ISO 8601."""

    name: str
    url: str
    cosigned_size: int | None = None
    last_attempt: str | None = None
    last_success: str | None = None
    error: str | None = None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class WitnessPublisher:
    """Submits each new checkpoint of ``app``'s log to ``app.settings.witnesses``.

    ``start()`` starts the thread, ``poke()`` wakes it, ``stop()`` ends it; ``run_once()``
    does one round in the caller's thread.
    """

    def __init__(self, app: App, *, poll_s: float = POLL_S, timeout_s: float = TIMEOUT_S) -> None:
        from skyfence.store.witnessing import parse_witness

        self._app = app
        self._poll_s = float(poll_s)
        self._clients = [parse_witness(spec) for spec in app.settings.witnesses]
        for client in self._clients:
            client.timeout_s = float(timeout_s)
        self._state = {
            c.verifier.name: WitnessState(c.verifier.name, c.url.removesuffix("/add-checkpoint"))
            for c in self._clients
        }
        self._cosigned: dict[str, tuple[int, str]] = {}  # name -> (size, root) it cosigned
        self._lock = threading.Lock()
        self._round = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_app(cls, app: App, **kwargs: Any) -> WitnessPublisher | None:
        """A publisher when witnesses are configured, else ``None`` (a bad witness setting
        is a :class:`~skyfence.errors.ConfigurationError` here, at start)."""
        return cls(app, **kwargs) if app.settings.witnesses else None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="skyfence-witness", daemon=True)
            self._thread.start()
            self._wake.set()  # the checkpoint in force at start

    def poke(self) -> None:
        """A checkpoint may be new: look now (returns at once)."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def status(self) -> list[WitnessState]:
        """Each configured witness's state, in configuration order."""
        with self._lock:
            return [self._state[c.verifier.name] for c in self._clients]

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                logger.exception("witnessing the log's checkpoint failed")

    def run_once(self) -> WitnessOutcome | None:
        """Submit the latest checkpoint to every witness that has not cosigned it; the
        outcome, or ``None`` when there was nothing to do."""
        from skyfence.store.witnessing import submit

        with self._round, open_store(self._app) as store:
            latest = store.log.latest_checkpoint()
            if latest is None or latest.note is None:
                return None
            head = (latest.tree_size, latest.root_hash)
            due = [c for c in self._clients if self._cosigned.get(c.verifier.name) != head]
            if not due:
                return None
            started = _now()

            def answered(name: str, size: int, error: str | None) -> None:
                with self._lock:
                    if error is None:
                        self._cosigned[name] = head
                        self._state[name] = replace(
                            self._state[name], cosigned_size=size, last_attempt=started,
                            last_success=_now(), error=None,
                        )  # fmt: skip
                    else:
                        self._state[name] = replace(
                            self._state[name], last_attempt=started, error=error
                        )
                if error is None:
                    logger.info("witness %s cosigned checkpoint %d", name, size)
                else:
                    logger.warning("witness %s did not cosign checkpoint %d: %s", name, size, error)

            return submit(store.log, due, on_answer=answered)
