"""CLI: ``skyfence policy ...``, ``skyfence terminal ...`` and ``skyfence decide``.

Pure commands (``policy example``, ``validate``, ``diff`` of two files, ``decide --policy
FILE --terminals FILE``) need no database. The others open the store with
``skyfence.store.Store.open()`` (settings from the environment).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from skyfence.cli._common import JsonOption, console, emit, progress_bar
from skyfence.errors import ConflictError, InputError, ParseError
from skyfence.timeutil import datetime64_to_iso, parse_time

policy_app = typer.Typer(
    name="policy",
    help="Activation policies: examples, validation, diffs, versions and approvals.",
    no_args_is_help=True,
)
terminal_app = typer.Typer(
    name="terminal",
    help="The terminal registry: add, import and show terminals.",
    no_args_is_help=True,
)

OperatorOption = Annotated[
    str, typer.Option("--operator", help="Who makes this change (recorded in the log).")
]


def register(root: typer.Typer) -> None:
    """Add the ``policy`` and ``terminal`` groups and the ``decide`` command."""
    root.add_typer(policy_app, name="policy")
    root.add_typer(terminal_app, name="terminal")
    # unknown "options" such as -22.9 are taken as (negative) coordinates
    root.command("decide", context_settings={"ignore_unknown_options": True})(decide_command)


# ----------------------------------------------------------------------------- helpers
def _resolver() -> Any:
    from skyfence.policy.engine import _default_resolve

    return _default_resolve()


def _open_store() -> Any:
    from skyfence.store import Store

    return Store.open()


def _policy_in_force(store: Any, at: Any = None) -> Any:
    from skyfence.policy import Policy

    doc = store.policy_document_at(at)
    if doc is None:
        return None
    return Policy.from_document(doc, source="stored policy")


def _load_policy_arg(value: str, resolve: Any) -> Any:
    """A policy file, or ``current`` for the policy in force in the store."""
    from skyfence.policy import Policy, load_policy

    if value == "current" and not Path(value).exists():
        with _open_store() as store:
            return _policy_in_force(store) or Policy()
    return load_policy(value, resolve=resolve)


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
    from skyfence.policy import check_policy

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read policy file {file}: {exc.strerror}") from None
    policy, problems = check_policy(text, file.name, resolve=_resolver() if regions else None)
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
    from skyfence.policy import diff_policies

    resolve = _resolver()
    old_p = _load_policy_arg(old, resolve)
    new_p = _load_policy_arg(new, resolve)
    with progress_bar("comparing cell states", enabled=cells and not json_) as bar:
        d = diff_policies(
            old_p,
            new_p,
            at=parse_time(at),
            resolution=resolution,
            cells=cells,
            resolve=resolve,
            progress=bar,
        )

    def human(d: Any) -> None:
        if not d.changes:
            console.print("no rule changes")
        for c in d.changes:
            extra = f" ({', '.join(c.fields)})" if c.fields else ""
            flag = " [sensitive]" if c.sensitive else ""
            console.print(
                f"{c.change:8} {c.kind:15} {c.id}{extra}{flag}  regions: {', '.join(c.regions) or '-'}"
            )
        if d.cells_changed is not None:
            console.print(
                f"H3 res {d.resolution} cells changing state at {d.at}: {d.cells_changed} "
                f"of {d.cells_checked} checked"
            )
            for k, v in d.cell_transitions.items():
                console.print(f"  {k}: {v}")
        if d.sensitive:
            console.print("needs a second operator's approval: " + "; ".join(d.sensitive_reasons))

    emit(d, json_, human)


@policy_app.command("apply")
def apply_command(
    file: Annotated[Path, typer.Argument(help="Policy file to apply.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the policy changes (logged).")],
    operator: OperatorOption,
    json_: JsonOption = False,
) -> None:
    """Store FILE as the new policy version; sensitive changes wait for a second operator."""
    from skyfence.policy import diff_policies, load_policy

    resolve = _resolver()
    new = load_policy(file, resolve=resolve)
    with _open_store() as store:
        old = _policy_in_force(store)
        if old is not None and old.to_document() == new.to_document():
            raise ConflictError(
                f"{file.name} is identical to the policy in force; nothing to apply "
                "(`skyfence policy show` prints it)"
            )
        d = diff_policies(old, new, cells=False, resolve=resolve)
        res = store.apply_policy(
            new.to_document(), operator=operator, reason=reason, requires_approval=d.sensitive
        )
    out = {
        "status": res.status,
        "change_id": res.change_id,
        "version": res.version,
        "log_index": res.log_index,
        "requires_approval": d.sensitive,
        "sensitive_reasons": d.sensitive_reasons,
        "changes": [{"id": c.id, "change": c.change, "fields": c.fields} for c in d.changes],
    }

    def human(o: dict[str, Any]) -> None:
        if o["status"] == "applied":
            typer.echo(
                f"applied: policy version {o['version']} (change {o['change_id']}, log entry {o['log_index']})"
            )
        else:
            typer.echo(
                f"pending: change {o['change_id']} needs a second operator "
                f"(`skyfence policy approve {o['change_id']} --operator NAME`): "
                + "; ".join(o["sensitive_reasons"])
            )

    emit(out, json_, human)


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
    from skyfence.policy import load_policy

    t = parse_time(at)
    if file is not None:
        version: Any = str(file)
        policy = load_policy(file)
    else:
        with _open_store() as store:
            version = store.policy_version_at(t)
            policy = _policy_in_force(store, t)
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
    with _open_store() as store:
        versions = store.policy_versions()

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
    """List policy changes waiting for a second operator's approval."""
    with _open_store() as store:
        pending = store.pending_changes()

    def human(rows: list[Any]) -> None:
        if not rows:
            typer.echo("no pending changes")
        for p in rows:
            typer.echo(
                f"{p.id}: by {p.operator}, expires {datetime64_to_iso(p.expires_at)}: {p.reason} ({p.summary})"
            )

    emit(pending, json_, human)


@policy_app.command("approve")
def approve_command(
    change_id: Annotated[int, typer.Argument(help="Id of the pending change.")],
    operator: OperatorOption,
    reason: Annotated[str, typer.Option("--reason", help="Why you approve (logged).")] = "",
    json_: JsonOption = False,
) -> None:
    """Approve a pending change (must be a different operator from the requester)."""
    with _open_store() as store:
        res = store.approve(change_id, operator=operator, reason=reason)
    emit(
        res,
        json_,
        lambda r: typer.echo(f"{r.status}: policy version {r.version} (change {r.change_id})"),
    )


# ----------------------------------------------------------------------------- terminals
@terminal_app.command("add")
def terminal_add_command(
    terminal_id: Annotated[str, typer.Argument(metavar="ID", help="Terminal id.")],
    country: Annotated[str, typer.Option("--country", help="Registered country (ISO alpha-2).")],
    plan: Annotated[
        str, typer.Option("--plan", help="fixed, roam, maritime, aviation or government.")
    ],
    operator: OperatorOption,
    whitelist: Annotated[
        list[str] | None,
        typer.Option("--whitelist", help="Region the terminal is whitelisted for (repeat)."),
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
    """Register (or replace) a terminal in the store."""
    from skyfence.policy import Terminal

    term = Terminal(
        terminal_id,
        country,
        plan.strip().lower(),
        whitelists=tuple(whitelist or ()),
        speed_exempt=speed_exempt,
        trip_started=trip_started,
    )
    with _open_store() as store:
        index = store.put_terminal(term.to_record(), operator=operator, reason=reason)
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
    operator: OperatorOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (logged).")] = "terminal import",
    json_: JsonOption = False,
) -> None:
    """Import terminals from a CSV or JSON file into the store."""
    from skyfence.policy import TerminalRegistry
    from skyfence.store import Store

    registry = TerminalRegistry.load(file)
    store = Store.open(auto_checkpoint=False)
    try:
        with progress_bar("importing terminals", enabled=not json_) as bar:
            for i, term in enumerate(registry.terminals):
                store.put_terminal(term.to_record(), operator=operator, reason=reason)
                bar(i + 1, len(registry))
        if len(registry):
            store.log.checkpoint()
    finally:
        store.close()
    out = {"imported": len(registry), "file": str(file)}
    emit(out, json_, lambda o: typer.echo(f"imported {o['imported']} terminals from {file}"))


@terminal_app.command("show")
def terminal_show_command(
    terminal_id: Annotated[str, typer.Argument(metavar="ID", help="Terminal id.")],
    json_: JsonOption = False,
) -> None:
    """Show one stored terminal."""
    with _open_store() as store:
        record = store.get_terminal(terminal_id)
    emit(record, json_, lambda r: _echo_lines([f"{k}: {v}" for k, v in r.items()]))


@terminal_app.command("list")
def terminal_list_command(
    country: Annotated[
        str | None, typer.Option("--country", help="Only this registered country.")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """List stored terminals."""
    with _open_store() as store:
        records = store.terminals(country=country.upper() if country else None)

    def human(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            wl = ";".join(r.get("whitelists") or []) or "-"
            typer.echo(
                f"{r['id']:16} {r.get('country', '?'):3} {r.get('plan', '?'):11} whitelists: {wl}"
            )

    emit(records, json_, human)


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
    from skyfence.policy import TerminalRegistry, load_policy

    t = parse_time(time)
    resolve = _resolver()
    policy = registry = None
    if policy_file is not None:
        policy = load_policy(policy_file, resolve=resolve)
    if terminals_file is not None:
        registry = TerminalRegistry.load(terminals_file)
    if policy is None or registry is None:
        with _open_store() as store:
            if policy is None:
                policy = _policy_in_force(store, t)
                if policy is None:
                    versions = store.policy_versions()
                    hint = (
                        f"the first version was applied at {datetime64_to_iso(versions[0].applied_at)}"
                        if versions
                        else "apply one with `skyfence policy apply FILE`"
                    )
                    raise InputError(
                        f"no stored policy version was in force at {datetime64_to_iso(t)} ({hint}); "
                        "pass a later --time or --policy FILE"
                    )
            if registry is None:
                registry = TerminalRegistry.from_records(store.terminals())
    compiled = policy.compile(resolve=resolve)
    decision = compiled.decide(
        terminal, lat, lon, t, speed, altitude, registry=registry, trip_started=trip_started
    )

    def human(d: Any) -> None:
        verdict = "[green]ALLOWED[/green]" if d.allowed else "[red]DENIED[/red]"
        console.print(
            f"{verdict} terminal {d.terminal_id} at {lat:g}, {lon:g} ({d.country or 'no country'}) "
            f"at {d.time}: state {d.state}, region {d.region or '-'}, rule {d.rule_id or '-'}"
        )
        for r in d.reasons:
            console.print(f"  {r}", markup=False)

    emit(decision, json_, human)
