"""``skyfence token``: API tokens on the local database (create, list, revoke).

This is how the first admin of a service is made: ``skyfence token create --principal alice
--role admin`` on the machine that holds the database. The token is printed once; the store
keeps only its SHA-256. Making and revoking a token are log entries recorded as the local
principal (the OS user, or ``--operator``), ``via: cli``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from skyfence.cli._common import JsonOption, console, emit, get_app

app = typer.Typer(
    name="token",
    help="API tokens for `skyfence serve`: create (shown once), list, revoke.",
    no_args_is_help=True,
)

OperatorOption = Annotated[
    str | None,
    typer.Option(
        "--operator",
        help="Who makes this change (recorded in the log beside your OS account; "
        "default: the OS account).",
    ),
]


def register(root: typer.Typer) -> None:
    """Add the ``token`` group to the root app."""
    root.add_typer(app, name="token")


def _me(operator: str | None) -> Any:
    from skyfence.app.identity import Principal

    return Principal.local(operator)


def _row(info: Any) -> str:
    from rich.markup import escape

    roles = ",".join(info.roles)
    return escape(
        f"{info.token_id}  {info.display_name}  [{roles}]  {info.state}  "
        f"expires {info.expires_at:%Y-%m-%dT%H:%M:%SZ}"
    )


@app.command("create")
def create_command(
    principal: Annotated[
        str, typer.Option("--principal", help="The name the token stands for (e.g. alice).")
    ],
    role: Annotated[
        list[str],
        typer.Option(
            "--role",
            help="A role the token holds (repeat for several): viewer, terminal-gateway, "
            "operator, approver, admin.",
        ),
    ],
    expires: Annotated[
        str, typer.Option("--expires", help="Lifetime: 30d, 12h, 90m, 45s or 2w.")
    ] = "30d",
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the log).")] = (
        "API token created"
    ),
    operator: OperatorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make an API token for PRINCIPAL with the given roles; the token is printed once."""
    from skyfence.app.tokens import create, parse_lifetime

    lifetime = parse_lifetime(expires)
    made = create(
        get_app(), _me(operator), principal, role, expires_after_s=lifetime, reason=reason
    )

    def human(_: Any) -> None:
        console.print(_row(made.record))
        console.print("token (shown once, store it now):")
        typer.echo(made.token)

    emit({"token": made.token, **made.record.__dict__}, as_json, human)


@app.command("list")
def list_command(operator: OperatorOption = None, as_json: JsonOption = False) -> None:
    """List every token (active, expired, revoked); secrets are never shown."""
    from skyfence.app.tokens import list_tokens

    tokens = list_tokens(get_app(), _me(operator))

    def human(_: Any) -> None:
        if not tokens:
            console.print("no tokens")
        for info in tokens:
            console.print(_row(info))

    emit(tokens, as_json, human)


@app.command("revoke")
def revoke_command(
    token_id: Annotated[str, typer.Argument(help="The token's id (from `skyfence token list`).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the log).")] = (
        "API token revoked"
    ),
    operator: OperatorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a token: it stops working at once."""
    from skyfence.app.tokens import revoke

    info = revoke(get_app(), _me(operator), token_id, reason=reason)
    emit(info, as_json, lambda _: console.print(_row(info)))
