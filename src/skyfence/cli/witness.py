"""CLI: ``skyfence witness`` — run a transparency-log witness (c2sp.org/tlog-witness).

A witness cosigns a log's checkpoints only when each is consistent with the last one it
cosigned, so a log cannot show different histories to different readers. Its state (the
latest checkpoint per log) is one SQLite file; its key is an Ed25519 PEM file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from skyfence.cli._common import JsonOption, console, emit
from skyfence.errors import ConfigurationError, InputError

app = typer.Typer(
    name="witness",
    help="Run a transparency-log witness (c2sp.org/tlog-witness) for skyfence or any C2SP log.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    """Add the ``witness`` group to the root app."""
    root.add_typer(app, name="witness")


def _load_cosigner(key: Path, name: str) -> object:
    from skyfence.store.approvals import read_signing_key
    from skyfence.transparency.checkpoint import Cosigner

    private = read_signing_key(
        key, what="witness key", hint="make one with `skyfence witness keygen NAME --out FILE`"
    )
    if os.stat(key).st_mode & 0o077:
        raise ConfigurationError(f"witness key {key} is readable by others; chmod 600 {key}")
    return Cosigner(name, private)


@app.command("keygen")
def keygen(
    name: Annotated[str, typer.Argument(help="The witness's name, e.g. witness.example.org/w1.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the private key (PEM).")],
    as_json: JsonOption = False,
) -> None:
    """Make a witness key; prints its verifier key (give it to logs and their readers)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from skyfence.transparency.checkpoint import Cosigner

    if out.exists():
        raise InputError(f"{out} exists; a witness key is never overwritten")
    private = Ed25519PrivateKey.generate()
    cosigner = Cosigner(name, private)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    vkey = cosigner.verifier().vkey()
    emit({"name": name, "vkey": vkey, "key_file": str(out)}, as_json, lambda _: typer.echo(vkey))


@app.command("serve")
def serve(
    key: Annotated[Path, typer.Option("--key", help="The witness's private key (PEM).")],
    name: Annotated[str, typer.Option("--name", help="The witness's name (as at keygen).")],
    log: Annotated[
        list[str],
        typer.Option(
            "--log", help="Verifier key of a log to witness (`skyfence log pubkey --vkey`); repeat."
        ),
    ],
    db: Annotated[Path, typer.Option("--db", help="SQLite file holding the witness's state.")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8087,
) -> None:
    """Serve POST /add-checkpoint and GET /<origin hash>/checkpoint until interrupted."""
    from skyfence.transparency.checkpoint import Cosigner
    from skyfence.transparency.note import parse_vkey
    from skyfence.transparency.witness import Witness
    from skyfence.transparency.witness import serve as make_server

    cosigner = _load_cosigner(key, name)
    assert isinstance(cosigner, Cosigner)
    logs = [parse_vkey(v) for v in log]
    witness = Witness(db, cosigner, logs)
    server = make_server(witness, host, port)
    console.print(
        f"witness {name} ({cosigner.verifier().vkey()}) for {', '.join(v.name for v in logs)} "
        f"on http://{host}:{server.server_address[1]}/"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
