"""``skyfence serve``: the REST service (FastAPI on uvicorn).

The database is the one the settings name: a SQLite file under the data dir by default,
PostgreSQL with ``SKYFENCE_DATABASE_URL``. With ``--workers N`` uvicorn runs N processes;
they share nothing but the database, so on PostgreSQL they behave as one service.
"""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from skyfence.cli._common import err_console


def register(root: typer.Typer) -> None:
    """Add the ``serve`` command."""
    root.command("serve")(serve_command)


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=0, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (share the database).", min=1)
    ] = 1,
    rate_limit: Annotated[
        float,
        typer.Option("--rate-limit", help="Requests per second per token (0: no limit)."),
    ] = 200.0,
    max_body_mb: Annotated[
        float, typer.Option("--max-body-mb", help="Largest request body, in MiB.")
    ] = 64.0,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve the REST API (routes under /v1, docs at /docs) and the map (at /) until interrupted."""
    from skyfence.errors import DependencyError, InputError

    try:
        import uvicorn
    except ImportError:  # pragma: no cover - uvicorn is a core dependency
        raise DependencyError("skyfence serve needs uvicorn: pip install uvicorn") from None
    if rate_limit < 0 or max_body_mb <= 0:
        raise InputError("--rate-limit must be >= 0 and --max-body-mb > 0")
    _preflight(host, port)
    limits = {"rate_per_s": rate_limit, "max_body_bytes": int(max_body_mb * 1024 * 1024)}
    os.environ["SKYFENCE_SERVICE_LIMITS"] = json.dumps(limits)
    err_console.print(f"skyfence serving on http://{host}:{port} (docs at /docs)")
    uvicorn.run(
        "skyfence.web.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,
    )


def _preflight(host: str, port: int) -> None:
    """Refuse in one line, before uvicorn starts, what would otherwise fail inside it with a
    traceback: a database that cannot be opened (it is created or upgraded here, once, not
    by every worker) and an address that cannot be listened on."""
    import socket

    from skyfence.app.health import open_database
    from skyfence.cli._common import get_app
    from skyfence.errors import InputError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise InputError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; pass another --host or "
            "--port (e.g. --host 127.0.0.1 --port 8000)"
        ) from None
    open_database(get_app())
