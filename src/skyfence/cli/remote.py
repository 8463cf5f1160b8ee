"""``skyfence remote``: drive a skyfence service the way the local commands drive the store.

The service's URL and token come from ``--url`` / ``--token`` or ``SKYFENCE_URL`` /
``SKYFENCE_TOKEN``. The identity is the token's: there is no ``--operator`` here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from skyfence.cli._common import JsonOption, console, emit

app = typer.Typer(
    name="remote",
    help="Drive a remote skyfence service: decide, propose, approve, reject, pending, "
    "register-key, log.",
    no_args_is_help=True,
)
log_app = typer.Typer(name="log", help="The service's transparency log.", no_args_is_help=True)

UrlOpt = Annotated[
    str,
    typer.Option("--url", envvar="SKYFENCE_URL", help="The service, e.g. http://127.0.0.1:8000."),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="SKYFENCE_TOKEN", help="An API token (sft_...).", show_default=False
    ),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded in the log).")]
KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="Sign here with your own Ed25519 private key (PEM), registered with `remote "
        "register-key`; only the signature is sent.",
    ),
]


def register(root: typer.Typer) -> None:
    """Add the ``remote`` group."""
    app.add_typer(log_app, name="log")
    root.add_typer(app, name="remote")


def _client(url: str, token: str | None) -> Any:
    from skyfence.client import Client

    return Client(url, token)


@app.command("decide")
def decide_command(
    latitude: Annotated[float, typer.Argument(help="Latitude, degrees.")],
    longitude: Annotated[float, typer.Argument(help="Longitude, degrees.")],
    terminal: Annotated[str, typer.Option("--terminal", help="Terminal id.")],
    url: UrlOpt,
    token: TokenOpt = None,
    time: Annotated[str | None, typer.Option("--time", help="ISO 8601 UTC time.")] = None,
    speed_kmh: Annotated[float | None, typer.Option("--speed-kmh")] = None,
    as_json: JsonOption = False,
) -> None:
    """Ask the service whether TERMINAL at LATITUDE LONGITUDE is served."""
    with _client(url, token) as c:
        d = c.decide(terminal, latitude, longitude, time=time, speed_kmh=speed_kmh)

    def human(_: Any) -> None:
        verdict = "ALLOWED" if d["allowed"] else "DENIED"
        console.print(f"{verdict}: {d['state']} (rule {d['rule_id'] or '-'}, policy v{d['policy_version']}, "
                      f"log entry {d['log_index']})")  # fmt: skip
        for reason in d["reasons"]:
            console.print(f"  {reason}", markup=False)

    emit(d, as_json, human)


@app.command("propose")
def propose_command(
    file: Annotated[Path, typer.Argument(help="A policy file (YAML or JSON), checked here first.")],
    url: UrlOpt,
    reason: ReasonOpt,
    token: TokenOpt = None,
    review: Annotated[
        bool, typer.Option("--review", help="Ask for a second person even if not sensitive.")
    ] = False,
    key: KeyOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Propose FILE as the new policy (applied at once unless sensitive or --review); with
    --key the request is signed here over the document as the service will record it."""
    from skyfence.policy import load_policy

    # validated here (every problem with its line), sent as the canonical JSON document
    document = load_policy(file).to_document()
    _check_key(key)
    with _client(url, token) as c:
        res = c.propose(document, reason=reason, request_review=review, sign_with=key)
    emit(res, as_json, lambda r: console.print(f"change {r['change_id']}: {r['status']}"))


@app.command("approve")
def approve_command(
    change_id: Annotated[int, typer.Argument(help="The change's id.")],
    url: UrlOpt,
    token: TokenOpt = None,
    reason: ReasonOpt = "",
    key: KeyOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a pending change (as the token's principal; never one's own); with --key
    the approval is signed here over the change's document, hashed here."""
    _check_key(key)
    with _client(url, token) as c:
        res = c.approve(change_id, reason=reason, sign_with=key)
    emit(
        res,
        as_json,
        lambda r: console.print(f"change {r['change_id']}: {r['status']}, version {r['version']}"),
    )


def _check_key(key: Path | None) -> None:
    """Refuse an unreadable signing key before anything is sent."""
    if key is not None:
        from skyfence.store.approvals import read_signing_key

        read_signing_key(key)


@app.command("register-key")
def register_key_command(
    public_key: Annotated[
        Path, typer.Argument(help="Your Ed25519 public key (PEM file, or base64/hex in a file).")
    ],
    url: UrlOpt,
    reason: ReasonOpt,
    token: TokenOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Register your own public key (as the token's principal) for signed requests and
    approvals (--key)."""
    from skyfence.errors import InputError
    from skyfence.store.keys import load_public_key

    try:
        text = public_key.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {public_key}: {exc}") from None
    load_public_key(text)  # refused here, before anything is sent
    with _client(url, token) as c:
        res = c.register_key(text, reason=reason)
    emit(res, as_json, lambda r: console.print(f"registered your signing key (log entry "
                                               f"{r['log_index']})"))  # fmt: skip


@app.command("reject")
def reject_command(
    change_id: Annotated[int, typer.Argument(help="The change's id.")],
    url: UrlOpt,
    token: TokenOpt = None,
    reason: ReasonOpt = "",
    as_json: JsonOption = False,
) -> None:
    """Reject a pending change."""
    with _client(url, token) as c:
        res = c.reject(change_id, reason=reason)
    emit(res, as_json, lambda r: console.print(f"change {r['change_id']}: rejected"))


@app.command("pending")
def pending_command(url: UrlOpt, token: TokenOpt = None, as_json: JsonOption = False) -> None:
    """Changes waiting for a second person."""
    with _client(url, token) as c:
        rows = c.pending()

    def human(_: Any) -> None:
        if not rows:
            console.print("no pending changes")
        for r in rows:
            console.print(f"{r['id']}: by {r['display_name'] or r['operator']} ({r['via']}): "
                          f"{r['summary']}", markup=False)  # fmt: skip

    emit(rows, as_json, human)


@log_app.command("fetch")
def log_fetch_command(
    out: Annotated[Path, typer.Argument(help="Where to write the export (JSON Lines).")],
    url: UrlOpt,
    as_json: JsonOption = False,
) -> None:
    """Download the service's log (no token needed) as an export file."""
    with _client(url, None) as c:
        cp = c.fetch_log(out)
    emit({"path": str(out), **cp}, as_json,
         lambda _: console.print(f"{out}: {cp['tree_size']} entries, root {cp['root_hash'][:16]}…"))  # fmt: skip


@log_app.command("verify")
def log_verify_command(
    url: UrlOpt,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="The log's public key (PEM) you trust; default: the one the service publishes.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Keep the downloaded export here.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Download the service's log and verify it: every entry hashes into the signed
    checkpoint, and the history replays to the state it attests."""
    import tempfile

    from skyfence.app.log import verify_file
    from skyfence.errors import IntegrityError

    with _client(url, None) as c, tempfile.TemporaryDirectory() as tmp:
        path = out if out is not None else Path(tmp) / "log.jsonl"
        c.fetch_log(path)
        key: Any = public_key.read_text() if public_key is not None else c.public_key()["pem"]
        report = verify_file(path, key)
    if not report.ok:
        raise IntegrityError(f"the service's log does not verify: {report.problem}")
    emit(report, as_json, lambda r: console.print(f"ok: {r.entries} entries verified"))
