"""CLI: ``skyfence log`` — show, prove, export, sign and verify the transparency log.

A thin adapter over :mod:`skyfence.app.log`. ``verify FILE`` needs no database: it checks an
export file against a public key, offline. Every other command opens the store configured
by ``SKYFENCE_DATABASE_URL`` / ``SKYFENCE_DATA_DIR`` (default: a SQLite file under the
user's data dir).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from skyfence.cli._common import JsonOption, console, emit, get_app, progress_bar, to_jsonable
from skyfence.errors import InputError, IntegrityError

app = typer.Typer(
    name="log",
    help="The transparency log: every policy, approval, terminal and key change, "
    "in a Merkle tree with signed checkpoints (RFC 9162).",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    """Add the ``log`` group to the root app."""
    root.add_typer(app, name="log")


def _app() -> Any:
    return get_app()


def _me(operator: str | None = None) -> Any:
    from skyfence.app.identity import Principal

    return Principal.local(operator)


@app.command("show")
def show(
    start: Annotated[int, typer.Option("--from", min=0, help="First entry index.")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many entries.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List log entries from --from (index, time, kind, author, reason)."""
    from skyfence.app.log import show as show_log

    page = show_log(_app(), _me(), start, limit)
    entries, size = page.entries, page.tree_size

    def human(_: Any) -> None:
        table = Table(title=f"transparency log ({size} entries)")
        for column in ("index", "time (UTC)", "kind", "author"):
            table.add_column(column, no_wrap=True)
        table.add_column("reason")
        table.add_column("leaf hash", no_wrap=True)
        for e in entries:
            time = str(e.entry.get("time", ""))[:19].replace("T", " ")
            table.add_row(str(e.index), time, e.kind, e.author, e.reason, e.leaf_hash[:8])
        console.print(table)

    emit({"tree_size": size, "entries": entries}, as_json, human)


@app.command("proof")
def proof(
    index: Annotated[
        int | None, typer.Argument(help="Entry index to prove inclusion of.", show_default=False)
    ] = None,
    size: Annotated[
        int | None, typer.Option("--size", min=0, help="Tree size (default: the whole log).")
    ] = None,
    consistency: Annotated[
        tuple[int, int] | None,
        typer.Option(
            "--consistency",
            help="Instead: prove the tree of M entries is a prefix of the tree of N entries.",
            metavar="M N",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Print an inclusion proof for INDEX, or a consistency proof with --consistency M N."""
    from skyfence.app.log import consistency_proof, inclusion_proof

    if (index is None) == (consistency is None):
        raise InputError("give an entry INDEX for an inclusion proof, or --consistency M N")
    if consistency is not None:
        result: Any = consistency_proof(_app(), _me(), consistency[0], consistency[1])
    else:
        assert index is not None
        result = inclusion_proof(_app(), _me(), index, size)
    ok = result.verify()

    def human(_: Any) -> None:
        if consistency is not None:
            console.print(
                f"consistency {result.old_size} -> {result.new_size}: old root {result.old_root}, "
                f"new root {result.new_root}"
            )
        else:
            console.print(
                f"entry {result.index} in tree of {result.tree_size}: leaf {result.leaf_hash}, "
                f"root {result.root_hash}"
            )
        for i, h in enumerate(result.path):
            console.print(f"  {i:2d}  {h}")
        console.print("verifies: " + ("yes" if ok else "NO"))

    emit({"proof": result, "verifies": ok}, as_json, human)


@app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="Where to write the JSON Lines export.")],
    as_json: JsonOption = False,
) -> None:
    """Write every entry, checkpoint and public key to FILE (signs a checkpoint if needed)."""
    from skyfence.app.log import export as export_log

    summary = export_log(_app(), _me(), file)
    emit(
        summary,
        as_json,
        lambda s: console.print(
            f"wrote {s.entries} entries and {s.checkpoints} checkpoints to {s.path} "
            f"(root {s.root_hash})"
        ),
    )


@app.command("pubkey")
def pubkey(
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the key to this file.")
    ] = None,
    vkey: Annotated[
        bool,
        typer.Option(
            "--vkey",
            help="Print the C2SP verifier key (origin+keyid+base64) instead of the PEM: what "
            "Go's sumdb note package, witnesses and `log verify --key` read.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the public key that verifies this log's checkpoints (PEM, or --vkey)."""
    from skyfence.app.log import pubkey as log_pubkey
    from skyfence.app.log import vkey as log_vkey

    pem, keys = log_pubkey(_app(), _me())
    verifier_key = log_vkey(_app(), _me())
    if out is not None:
        _write_atomic(out, verifier_key + "\n" if vkey else pem)
    active = next(k for k in keys if k.status == "active")
    emit(
        {
            "key_id": active.key_id,
            "algorithm": active.algorithm,
            "pem": pem,
            "vkey": verifier_key,
            "keys": keys,
        },
        as_json,
        lambda _: typer.echo(verifier_key if vkey else pem, nl=vkey),
    )


@app.command("witness")
def witness(
    witness_spec: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            help="A witness as '<verifier key> <URL prefix>'; repeat for several "
            "(default: the setting SKYFENCE_WITNESSES).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Submit the latest checkpoint to the witnesses (c2sp.org/tlog-witness) and keep their
    cosignatures; prints the cosigned checkpoint. Exit 1 if any witness refused."""
    from skyfence.app.log import witness as submit

    outcome = submit(_app(), _me(), witness_spec or None)
    emit(outcome, as_json, lambda o: typer.echo(o.note, nl=False))
    if outcome.refused:
        first, why = next(iter(outcome.refused.items()))
        raise IntegrityError(
            f"{len(outcome.refused)} witness(es) refused or could not be reached; {first}: {why}"
        )


@app.command("tiles")
def tiles(
    out_dir: Annotated[Path, typer.Argument(help="Directory to write the tiled log into.")],
    as_json: JsonOption = False,
) -> None:
    """Write the log as C2SP tlog-tiles (checkpoint, tile/<L>/<N>, tile/entries/<N>) under
    OUT_DIR, for any static web host; signs a checkpoint first if needed."""
    from skyfence.app.log import tiles as write_tiles

    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} exists and is not a directory; give a directory for the tiles")
    with progress_bar("writing tiles", enabled=not as_json) as feed:
        summary = write_tiles(_app(), _me(), out_dir, progress=feed)
    emit(
        summary,
        as_json,
        lambda s: console.print(
            f"wrote {s.tree_size} entries as {s.bundles} entry bundles and {s.tiles} tiles to "
            f"{s.path} (root {s.root_hash}); verify with: skyfence log verify {s.path} "
            f"--key {s.vkey}"
        ),
    )


@app.command("checkpoint")
def checkpoint(
    operator: Annotated[
        str | None, typer.Option("--operator", help="Who asks for it (default: the OS account).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Also save the checkpoint as JSON, to pin it later with "
            "`log verify --trusted-checkpoint FILE`.",
        ),
    ] = None,
    accept_unsigned: Annotated[
        bool,
        typer.Option(
            "--accept-unsigned",
            help="Also sign entries appended after the last checkpoint outside skyfence "
            "(check them first with `log show`; the whole log is verified before signing).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Sign a checkpoint of the current tree head now."""
    from skyfence.app.log import checkpoint as sign_checkpoint

    cp = sign_checkpoint(_app(), _me(operator), accept_unsigned=accept_unsigned)
    if out is not None:
        _write_atomic(out, json.dumps(to_jsonable(cp), indent=2) + "\n")
    emit(
        cp,
        as_json,
        lambda c: console.print(
            f"checkpoint {c.id}: {c.tree_size} entries, root {c.root_hash}, key {c.key_id}, "
            f"{c.time}"
        ),
    )


@app.command("rotate-key")
def rotate_key(
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    operator: Annotated[
        str | None,
        typer.Option("--operator", help="Who rotates the key (default: the OS account)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Replace the signing key; the rotation is logged and signed by the old and new keys."""
    from skyfence.app.log import rotate_key as rotate

    key_id, pem = rotate(_app(), _me(operator), reason=reason)
    emit(
        {"key_id": key_id, "pem": pem},
        as_json,
        lambda _: console.print(f"new signing key {key_id}; publish it:\n{pem}"),
    )


@app.command("verify")
def verify(
    file: Annotated[
        Path | None,
        typer.Argument(help="An export written by `skyfence log export`.", show_default=False),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="The public key you trust: a PEM file (from `skyfence log pubkey`), "
            "or the key as PEM/base64/hex text. Required with FILE.",
        ),
    ] = None,
    database: Annotated[
        bool,
        typer.Option(
            "--database",
            help="Instead of FILE, verify the configured database in place, and every state "
            "table against the log (default key: this host's signing key).",
        ),
    ] = False,
    trusted_checkpoint: Annotated[
        str | None,
        typer.Option(
            "--trusted-checkpoint",
            help="A checkpoint you saw before: a JSON file (from `log checkpoint --out`) or "
            "SIZE:ROOT. A log that does not contain it (rolled back or rewritten) is refused.",
        ),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            help="A witness you trust, as its C2SP verifier key (name+keyid+base64, type "
            "0x04) or a file holding it; repeat for several.",
        ),
    ] = None,
    quorum: Annotated[
        int,
        typer.Option(
            "--quorum",
            min=0,
            help="How many of the --witness keys must have cosigned the latest checkpoint.",
        ),
    ] = 0,
    signed_approvals: Annotated[
        bool,
        typer.Option(
            "--signed-approvals",
            help="Require every sensitive change to be signed by the requester's and the "
            "approver's own registered keys (two distinct keys).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Verify an export offline (no database), or the store itself with --database.

    Checks leaf hashes, the entry chain, every checkpoint's root and signature, the
    consistency of successive checkpoints and every state the entries attest; exit code 1
    names the first untrusted entry.
    """
    from skyfence.app.log import verify_database, verify_file, verify_tiles
    from skyfence.store.verify import load_trusted_checkpoint, read_witnesses

    if (file is None) == (not database):
        raise InputError("give an export FILE (with --key), or --database to check the store")
    witnesses = read_witnesses(witness or [])
    if quorum > len(witnesses):
        raise InputError(
            f"--quorum {quorum} needs at least {quorum} --witness keys; {len(witnesses)} given"
        )
    pin = load_trusted_checkpoint(trusted_checkpoint) if trusted_checkpoint else None
    if file is not None and key is None:
        raise InputError(
            "verifying FILE needs --key: the public key you trust "
            "(from `skyfence log pubkey --out FILE`, or `--vkey`)"
        )
    if file is not None and file.is_dir():
        assert key is not None
        report = verify_tiles(file, key, witnesses=witnesses, quorum=quorum, trusted_checkpoint=pin)
        where = str(file)
    elif file is not None:
        assert key is not None
        report = verify_file(
            file,
            key,
            trusted_checkpoint=pin,
            witnesses=witnesses,
            quorum=quorum,
            signed_approvals=signed_approvals,
        )
        where = str(file)
    else:
        report = verify_database(
            _app(),
            _me(),
            public_key=_key_text(key) if key is not None else None,
            trusted_checkpoint=pin,
            witnesses=witnesses,
            quorum=quorum,
            signed_approvals=signed_approvals,
        )
        where = "database"
    if as_json:
        emit(report, True)
    elif report.ok:
        console.print(
            f"OK: {report.entries} entries, {report.checkpoints_verified} signed checkpoints "
            f"verified, root {report.root_hash}"
        )
        for warning in report.warnings:
            console.print(f"warning: {warning}")
    if not report.ok:
        raise IntegrityError(f"{where}: {report.problem}")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def _key_text(key: str) -> str | bytes:
    path = Path(key)
    try:
        if not key.lstrip().startswith("-----") and path.is_file():
            return path.read_bytes()
    except OSError:
        pass
    return key
