"""CLI: ``skyfence policy ...``, ``skyfence terminal ...`` and ``skyfence decide``.

A thin adapter over :mod:`skyfence.app` (changes, terminals, decide): it parses options,
makes the local :class:`~skyfence.app.identity.Principal` (the OS account, and
``--operator`` when given), calls the operation and prints its result. Pure commands
(``policy example``, ``validate``, ``diff`` of two files, ``decide --policy FILE --terminals
FILE``) need no database.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from skyfence.cli._common import JsonOption, console, emit, get_app, progress_bar
from skyfence.errors import InputError, ParseError
from skyfence.timeutil import datetime64_to_iso, parse_duration, parse_time

policy_app = typer.Typer(
    name="policy",
    help="Activation policies: examples, validation, diffs, versions and approvals.",
    no_args_is_help=True,
)
terminal_app = typer.Typer(
    name="terminal",
    help="The terminal registry: add, import, show, list and delete terminals.",
    no_args_is_help=True,
)

KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="Sign with your own Ed25519 private key (PEM) registered with `policy "
        "register-key`; the signature is made here and logged.",
    ),
]
OperatorOption = Annotated[
    str | None,
    typer.Option(
        "--operator",
        help="Who makes this change (recorded in the log beside your OS account; "
        "default: the OS account).",
    ),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (recorded in the log).")]


def register(root: typer.Typer) -> None:
    """Add the ``policy`` and ``terminal`` groups and the ``decide`` command."""
    root.add_typer(policy_app, name="policy")
    root.add_typer(terminal_app, name="terminal")
    root.command("decide")(decide_command)


# ----------------------------------------------------------------------------- helpers
def _app() -> Any:
    """The App of this CLI run (one per process, see ``cli._common.get_app``)."""
    return get_app()


def _me(operator: str | None = None) -> Any:
    from skyfence.app.identity import Principal

    return Principal.local(operator)


def _load_policy_arg(app: Any, value: str) -> Any:
    """A policy file, or ``current`` for the policy in force in the store."""
    from skyfence.app._store import resolver
    from skyfence.app.changes import policy_in_force
    from skyfence.policy import Policy, load_policy

    if value == "current" and not Path(value).exists():
        found = policy_in_force(app, _me())
        return found.policy if found is not None else Policy()
    return load_policy(value, resolve=resolver(app))


def _rule_row(rule: Any) -> dict[str, Any]:
    doc = rule.to_document()
    return {k: v for k, v in doc.items() if v not in (None, "", [])}


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)


def _window(doc: dict[str, Any]) -> str:
    start = doc.get("effective_from") or "…"
    end = doc.get("effective_until") or "…"
    return f"{start} → {end}"


def _print_changes(changes: list[dict[str, Any]]) -> None:
    for c in changes:
        extra = f" ({', '.join(c['fields'])})" if c.get("fields") else ""
        flag = " [sensitive]" if c.get("sensitive") else ""
        regions = ", ".join(c.get("regions") or []) or "-"
        console.print(
            f"  {c['change']:8} {c['kind']:15} {c['id']}{extra}{flag}  regions: {regions}",
            markup=False,
        )


def _diff_rows(diff: Any) -> list[dict[str, Any]]:
    from skyfence.store.rules import describe_changes

    return describe_changes(diff)


# ----------------------------------------------------------------------------- policy
@policy_app.command("example")
def example_command(
    name: Annotated[str | None, typer.Argument(help="Example name, e.g. ukraine-2026.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the example names.")] = False,
    json_: JsonOption = False,
) -> None:
    """Print a documented example policy (YAML; ``--json`` prints its document)."""
    from skyfence.policy import example_names, example_text, load_example

    if list_ or name is None:
        names = example_names()
        emit(names, json_, _echo_lines)
        return
    if json_:
        emit(load_example(name).to_document(), True)
    else:
        typer.echo(example_text(name), nl=False)


@policy_app.command("validate")
def validate_command(
    file: Annotated[Path, typer.Argument(help="Policy file (.yaml, .yml or .json).")],
    regions: Annotated[
        bool,
        typer.Option(
            "--regions/--no-regions", help="Also check that every region expression resolves."
        ),
    ] = True,
    json_: JsonOption = False,
) -> None:
    """Validate a policy file; every problem is reported with its line number."""
    from skyfence.app._store import resolver
    from skyfence.policy import check_policy
    from skyfence.policy.document import MAX_JSON_CHARS
    from skyfence.regions.io import read_text_bounded

    # a regular file of bounded size: /dev/zero or a pipe would never end
    text = read_text_bounded(file, MAX_JSON_CHARS, "policy file")
    resolve = resolver(_app()) if regions else None
    policy, problems = check_policy(text, file.name, resolve=resolve)
    result = {
        "file": str(file),
        "valid": not problems,
        "rules": len(policy.rules) if policy else None,
        "terminal_rules": len(policy.terminal_rules) if policy else None,
        "problems": [{"line": p.line, "message": p.reason, "text": str(p)} for p in problems],
    }

    def human(d: dict[str, Any]) -> None:
        if d["valid"]:
            typer.echo(
                f"{file.name}: valid ({d['rules']} rules, {d['terminal_rules']} terminal rules)"
            )
        for p in d["problems"]:
            typer.echo(p["text"])

    emit(result, json_, human)
    if problems:
        if json_:
            raise typer.Exit(1)
        first = problems[0]
        more = f" ({len(problems) - 1} more above)" if len(problems) > 1 else ""
        raise ParseError(first.reason + more, source=first.source, line=first.line)


@policy_app.command("diff")
def diff_command(
    old: Annotated[str, typer.Argument(help="Old policy file, or 'current' for the one in force.")],
    new: Annotated[str, typer.Argument(help="New policy file.")],
    at: Annotated[
        str | None, typer.Option("--at", help="Time at which states are compared (default now).")
    ] = None,
    resolution: Annotated[
        int, typer.Option("--resolution", help="H3 resolution of the cell count.")
    ] = 5,
    cells: Annotated[
        bool, typer.Option("--cells/--no-cells", help="Count H3 cells that change state.")
    ] = True,
    json_: JsonOption = False,
) -> None:
    """List the rules and regions that change, and how many H3 cells change state."""
    from skyfence.app._store import resolver
    from skyfence.policy import diff_policies

    app = _app()
    old_p = _load_policy_arg(app, old)
    new_p = _load_policy_arg(app, new)
    with progress_bar("comparing cell states", enabled=cells and not json_) as bar:
        d = diff_policies(
            old_p,
            new_p,
            at=parse_time(at),
            resolution=resolution,
            cells=cells,
            resolve=resolver(app),
            progress=bar,
        )

    def human(d: Any) -> None:
        if not d.changes:
            console.print("no rule changes")
        _print_changes(_diff_rows(d))
        if d.cells_changed is not None:
            console.print(
                f"H3 res {d.resolution} cells changing state at {d.at}: {d.cells_changed} "
                f"of {d.cells_checked} checked"
            )
            for k, v in d.cell_transitions.items():
                console.print(f"  {k}: {v}")
        if d.sensitive:
            console.print(
                "needs a second person's approval: " + "; ".join(d.sensitive_reasons), markup=False
            )

    emit(d, json_, human)


def _change_out(res: Any) -> dict[str, Any]:
    return {
        "status": res.status,
        "change_id": res.change_id,
        "version": res.version,
        "log_index": res.log_index,
        "base_version": res.base_version,
        "requires_approval": res.status == "pending",
        "sensitive": res.sensitive,
        "sensitive_reasons": res.reasons,
        "changes": res.changes,
        "flags": res.flags,
    }


def _print_result(o: dict[str, Any]) -> None:
    if o["status"] == "applied":
        flags = f" [{', '.join(o['flags'])}]" if o["flags"] else ""
        typer.echo(
            f"applied: policy version {o['version']} (change {o['change_id']}, log entry "
            f"{o['log_index']}, replacing version {o['base_version']}){flags}"
        )
    else:
        why = "; ".join(o["sensitive_reasons"]) or "review requested"
        typer.echo(
            f"pending: change {o['change_id']} on version {o['base_version']} needs a second "
            f"person (`skyfence policy show-pending {o['change_id']}`, then `skyfence policy "
            f"approve {o['change_id']}`): {why}"
        )
    _print_changes(o["changes"])


@policy_app.command("apply")
def apply_command(
    file: Annotated[Path, typer.Argument(help="Policy file to apply.")],
    reason: ReasonOption,
    operator: OperatorOption = None,
    base: Annotated[
        int | None,
        typer.Option(
            "--base",
            min=0,
            help="The version you built this on (refused if another is in force by then; "
            "default: none asserted, the change replaces whatever is in force when stored).",
        ),
    ] = None,
    request_review: Annotated[
        bool,
        typer.Option("--request-review", help="Wait for a second person even if not sensitive."),
    ] = False,
    expires: Annotated[
        str, typer.Option("--expires", help="How long a request waits for approval (e.g. 2d).")
    ] = "7d",
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """Store FILE as the new policy version; sensitive changes wait for a second person.

    Whether the change is sensitive is decided by the store against the version it
    replaces, inside its transaction; the diff printed is that one.
    """
    from skyfence.app.changes import propose

    res = propose(
        _app(),
        _me(operator),
        file,
        reason=reason,
        base_version=base,
        request_review=request_review,
        expires_after_s=parse_duration(expires),
        sign_with=key,
    )
    emit(_change_out(res), json_, _print_result)


@policy_app.command("show")
def show_command(
    at: Annotated[
        str | None,
        typer.Option("--at", help="Show the policy in force at this time (default now)."),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="A policy file instead of the stored versions.")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Show the stored policy version in force at a time and its rules in force then."""
    from skyfence.app.changes import policy_in_force
    from skyfence.policy import load_policy

    t = parse_time(at)
    version: Any = None
    policy = None
    if file is not None:
        version, policy = str(file), load_policy(file)
    else:
        found = policy_in_force(_app(), _me(), t)
        if found is not None:
            version, policy = found.version, found.policy
    if policy is None:
        out: dict[str, Any] = {
            "at": datetime64_to_iso(t),
            "version": None,
            "rules_in_force": [],
            "terminal_rules_in_force": [],
        }
    else:
        out = {
            "at": datetime64_to_iso(t),
            "version": version,
            "name": policy.name,
            "rules_in_force": [_rule_row(r) for r in policy.rules_at(t)],
            "terminal_rules_in_force": [_rule_row(r) for r in policy.terminal_rules_at(t)],
            "rules_total": len(policy.rules),
            "terminal_rules_total": len(policy.terminal_rules),
            "document": policy.to_document(),
        }

    def human(o: dict[str, Any]) -> None:
        if o["version"] is None:
            typer.echo(
                f"no policy in force at {o['at']}; apply one with `skyfence policy apply FILE`"
            )
            return
        what = f"policy version {o['version']}" if isinstance(o["version"], int) else o["version"]
        typer.echo(f"{what} ({o['name'] or 'unnamed'}): rules in force at {o['at']}")
        for r in o["rules_in_force"]:
            flag = " [sensitive]" if r.get("sensitive") else ""
            typer.echo(f"  {r['id']:24} {r['state']:16} {r['region']}  {_window(r)}{flag}")
        for r in o["terminal_rules_in_force"]:
            typer.echo(
                f"  {r['id']:24} {r['kind']:16} {r.get('region', '(everywhere)')}  {_window(r)}"
            )

    emit(out, json_, human)


@policy_app.command("history")
def history_command(json_: JsonOption = False) -> None:
    """List the stored policy versions, oldest first (who applied, who approved, why)."""
    from skyfence.app.changes import history

    versions = history(_app(), _me())

    def human(rows: list[Any]) -> None:
        if not rows:
            typer.echo("no policy versions yet")
        for v in rows:
            approved = f", approved by {v.approved_by}" if v.approved_by else ""
            typer.echo(
                f"v{v.version}: {datetime64_to_iso(v.applied_at)} by {v.operator}{approved}: {v.reason}"
            )

    emit(versions, json_, human)


@policy_app.command("pending")
def pending_command(json_: JsonOption = False) -> None:
    """List policy changes waiting for a second person's approval."""
    from skyfence.app.changes import pending

    rows_ = pending(_app(), _me())

    def human(rows: list[Any]) -> None:
        if not rows:
            typer.echo("no pending changes")
        for p in rows:
            typer.echo(
                f"{p.id}: on version {p.base_version}, by {p.display_name or p.operator}, expires "
                f"{datetime64_to_iso(p.expires_at)}: {p.reason} ({p.summary})"
            )

    emit(rows_, json_, human)


@policy_app.command("show-pending")
def show_pending_command(
    change_id: Annotated[int, typer.Argument(help="Id of the change.")],
    json_: JsonOption = False,
) -> None:
    """Print a change's full document and its diff (and what changed since, if stale)."""
    import yaml

    from skyfence.app.changes import show_pending

    d = show_pending(_app(), _me(), change_id)
    out = {
        "change": d.change,
        "status": d.change.status,
        "base_version": d.base_version,
        "current_version": d.current_version,
        "stale": d.stale,
        "requesters": d.requesters,
        "judgement": d.judgement,
        "changes": _diff_rows(d.diff),
        "since_base": None if d.since_base is None else _diff_rows(d.since_base),
        "against_current": None if d.against_current is None else _diff_rows(d.against_current),
        "document": d.document,
    }

    def human(o: dict[str, Any]) -> None:
        c = d.change
        who = ", ".join(
            f"{r.get('display_name') or r.get('name')} (OS user {r.get('os_user') or '-'}, "
            f"via {r.get('via')})"
            for r in d.requesters
        )
        typer.echo(f"change {c.id} ({c.status}): {c.summary}")
        typer.echo(f"  requested by {who}: {c.reason}")
        typer.echo(f"  built on version {d.base_version}; version {d.current_version} is in force")
        reasons = o["judgement"].get("reasons") or []
        if reasons:
            typer.echo("  sensitive: " + "; ".join(reasons))
        typer.echo(f"what it changes against version {d.base_version}:")
        _print_changes(o["changes"])
        if d.stale:
            typer.echo(
                f"STALE: versions after {d.base_version} changed (approving is refused; "
                f"`skyfence policy rebase {c.id}` re-applies it on version {d.current_version}):"
            )
            _print_changes(o["since_base"] or [])
        typer.echo("document:")
        typer.echo(yaml.safe_dump(d.document, sort_keys=False, allow_unicode=True), nl=False)

    emit(out, json_, human)


@policy_app.command("approve")
def approve_command(
    change_id: Annotated[int, typer.Argument(help="Id of the pending change.")],
    operator: OperatorOption = None,
    reason: Annotated[str, typer.Option("--reason", help="Why you approve (logged).")] = "",
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """Approve a pending change (a different person from whoever requested or rebased it)."""
    from skyfence.app.changes import approve

    res = approve(_app(), _me(operator), change_id, reason=reason, sign_with=key)
    emit(_change_out(res), json_, _print_result)


@policy_app.command("register-key")
def register_key_command(
    public_key: Annotated[
        Path, typer.Argument(help="Your Ed25519 public key (PEM file, or base64/hex in a file).")
    ],
    reason: ReasonOption,
    operator: OperatorOption = None,
    json_: JsonOption = False,
) -> None:
    """Register your own public key: your requests and approvals signed with --key FILE are
    then checked against it (and `log verify --signed-approvals` requires them)."""
    from skyfence.app.changes import register_key

    try:
        text = public_key.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {public_key}: {exc.strerror}") from None
    index = register_key(_app(), _me(operator), text, reason=reason)
    emit(
        {"log_index": index},
        json_,
        lambda o: typer.echo(f"registered your signing key (log entry {o['log_index']})"),
    )


@policy_app.command("reject")
def reject_command(
    change_id: Annotated[int, typer.Argument(help="Id of the pending change.")],
    reason: ReasonOption,
    operator: OperatorOption = None,
    json_: JsonOption = False,
) -> None:
    """Reject a pending change (or withdraw your own); it never takes effect."""
    from skyfence.app.changes import reject

    index = reject(_app(), _me(operator), change_id, reason=reason)
    emit(
        {"change_id": change_id, "status": "rejected", "log_index": index},
        json_,
        lambda o: typer.echo(f"rejected: change {change_id} (log entry {o['log_index']})"),
    )


@policy_app.command("rebase")
def rebase_command(
    change_id: Annotated[int, typer.Argument(help="Id of the stale pending change.")],
    operator: OperatorOption = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (logged).")] = "",
    json_: JsonOption = False,
) -> None:
    """Re-apply a change built on an older version onto the version in force.

    The result is a new pending change (shown here) that someone other than its requesters
    must approve; a rule changed both ways is a conflict, and nothing is changed.
    """
    from skyfence.app.changes import rebase

    res = rebase(_app(), _me(operator), change_id, reason=reason)
    emit(_change_out(res), json_, _print_result)


@policy_app.command("settings")
def settings_command(
    require_distinct: Annotated[
        bool | None,
        typer.Option(
            "--require-distinct-os-users/--allow-same-os-user",
            help="Refuse (or allow, marking them same-os-user in the log) approvals made from "
            "the requester's OS account.",
        ),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why the setting changes (logged).")] = "",
    operator: OperatorOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the store's settings, or change one (logged)."""
    from skyfence.app.changes import set_store_setting, store_settings

    app, me = _app(), _me(operator)
    if require_distinct is not None:
        if not reason.strip():
            raise InputError("changing a store setting needs --reason (it is logged)")
        set_store_setting(app, me, "require_distinct_os_users", require_distinct, reason=reason)
    values = store_settings(app, me)
    emit(
        values, json_, lambda v: _echo_lines([f"{k}: {'on' if x else 'off'}" for k, x in v.items()])
    )


# ----------------------------------------------------------------------------- terminals
@terminal_app.command("add")
def terminal_add_command(
    terminal_id: Annotated[str, typer.Argument(metavar="ID", help="Terminal id.")],
    country: Annotated[str, typer.Option("--country", help="Registered country (ISO alpha-2).")],
    plan: Annotated[
        str, typer.Option("--plan", help="fixed, roam, maritime, aviation or government.")
    ],
    operator: OperatorOption = None,
    whitelist: Annotated[
        list[str] | None,
        typer.Option(
            "--whitelist", help="Region (or rule id) the terminal is whitelisted for (repeat)."
        ),
    ] = None,
    speed_exempt: Annotated[
        bool, typer.Option("--speed-exempt", help="Exempt from speed limits that allow it.")
    ] = False,
    trip_started: Annotated[
        str | None, typer.Option("--trip-started", help="Start of the current trip abroad.")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (logged).")] = "terminal registered",
    json_: JsonOption = False,
) -> None:
    """Register (or replace) a terminal; country and whitelists are checked first."""
    from skyfence.app.terminals import add
    from skyfence.policy import Terminal

    term = Terminal(
        terminal_id,
        country,
        plan.strip().lower(),
        whitelists=tuple(whitelist or ()),
        speed_exempt=speed_exempt,
        trip_started=trip_started,
    )
    index = add(_app(), _me(operator), term, reason=reason)
    out = {"terminal": term.to_record(), "log_index": index}
    emit(
        out,
        json_,
        lambda o: typer.echo(f"terminal {terminal_id} stored (log entry {o['log_index']})"),
    )


@terminal_app.command("import")
def terminal_import_command(
    file: Annotated[
        Path, typer.Argument(help="CSV (id,country,plan,whitelists,...) or JSON list.")
    ],
    operator: OperatorOption = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (logged).")] = "terminal import",
    json_: JsonOption = False,
) -> None:
    """Import terminals from a CSV or JSON file: every one, or none (one transaction)."""
    from skyfence.app.terminals import import_file

    with ExitStack() as stack:
        bars: list[Any] = []

        def progress(done: int, total: int) -> None:
            # the bar starts with the writing, after the file was read and checked
            if not bars:
                bars.append(
                    stack.enter_context(progress_bar("importing terminals", enabled=not json_))
                )
            bars[0](done, total)

        res = import_file(_app(), _me(operator), file, reason=reason, progress=progress)
    emit(res, json_, lambda o: typer.echo(f"imported {o.imported} terminals from {file}"))


@terminal_app.command("show")
def terminal_show_command(
    terminal_id: Annotated[str, typer.Argument(metavar="ID", help="Terminal id.")],
    json_: JsonOption = False,
) -> None:
    """Show one stored terminal."""
    from skyfence.app.terminals import show

    record = show(_app(), _me(), terminal_id)
    emit(record, json_, lambda r: _echo_lines([f"{k}: {v}" for k, v in r.items()]))


@terminal_app.command("list")
def terminal_list_command(
    country: Annotated[
        str | None, typer.Option("--country", help="Only this registered country.")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """List stored terminals."""
    from skyfence.app.terminals import list_terminals

    records = list_terminals(_app(), _me(), country=country)

    def human(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            wl = ";".join(r.get("whitelists") or []) or "-"
            typer.echo(
                f"{r['id']:16} {r.get('country', '?'):3} {r.get('plan', '?'):11} whitelists: {wl}"
            )

    emit(records, json_, human)


@terminal_app.command("delete")
def terminal_delete_command(
    terminal_id: Annotated[str, typer.Argument(metavar="ID", help="Terminal id.")],
    reason: ReasonOption,
    operator: OperatorOption = None,
    json_: JsonOption = False,
) -> None:
    """Remove a terminal from the registry (logged)."""
    from skyfence.app.terminals import delete

    index = delete(_app(), _me(operator), terminal_id, reason=reason)
    emit(
        {"terminal_id": terminal_id, "log_index": index},
        json_,
        lambda o: typer.echo(f"terminal {terminal_id} deleted (log entry {o['log_index']})"),
    )


# ----------------------------------------------------------------------------- decide
def decide_command(
    lat: Annotated[float, typer.Argument(help="Latitude in degrees (negative values work as is).")],
    lon: Annotated[float, typer.Argument(help="Longitude in degrees.")],
    terminal: Annotated[str, typer.Option("--terminal", help="Terminal id.")],
    time: Annotated[
        str | None, typer.Option("--time", help="UTC time, ISO 8601 (default now).")
    ] = None,
    speed: Annotated[float | None, typer.Option("--speed", help="Ground speed in km/h.")] = None,
    altitude: Annotated[
        float | None, typer.Option("--altitude", help="Altitude in metres.")
    ] = None,
    trip_started: Annotated[
        str | None, typer.Option("--trip-started", help="Start of the trip abroad.")
    ] = None,
    policy_file: Annotated[
        Path | None,
        typer.Option("--policy", help="Policy file instead of the stored policy in force."),
    ] = None,
    terminals_file: Annotated[
        Path | None,
        typer.Option("--terminals", help="Terminal CSV/JSON instead of the stored registry."),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Decide whether a terminal at LAT LON is served, and which rule decided."""
    from skyfence.app.decide import decide

    res = decide(
        _app(),
        _me(),
        terminal,
        lat,
        lon,
        time=time,
        speed_kmh=speed,
        altitude_m=altitude,
        trip_started=trip_started,
        policy_file=policy_file,
        terminals_file=terminals_file,
    )

    def human(d: Any) -> None:
        verdict = "[green]ALLOWED[/green]" if d.allowed else "[red]DENIED[/red]"
        console.print(
            f"{verdict} terminal {d.terminal_id} at {lat:g}, {lon:g} ({d.country or 'no country'}) "
            f"at {d.time}: state {d.state}, region {d.region or '-'}, rule {d.rule_id or '-'} "
            f"({res.policy_source})"
        )
        for r in d.reasons:
            console.print(f"  {r}", markup=False)

    emit(res.decision, json_, human)
