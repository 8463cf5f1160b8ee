"""Generate docs/cli.md from the CLI itself (every command, argument and option).

    .venv/bin/python scripts/gen_cli_docs.py          # rewrite docs/cli.md
    .venv/bin/python scripts/gen_cli_docs.py --check  # exit 1 if docs/cli.md is stale

A test runs ``--check``, so a command that is added or changed without regenerating the
reference fails the suite.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from skyfence.cli.main import build_command

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def _first_paragraph(text: str | None) -> str:
    if not text:
        return ""
    return " ".join(text.strip().split("\n\n")[0].split())


def _param_row(p: Any) -> str:
    if getattr(p, "param_type_name", "") == "argument":
        name = f"`{p.name.upper()}`"
        kind = "argument" + ("" if p.required else ", optional")
    else:
        name = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
        kind = "flag" if getattr(p, "is_flag", False) else "option"
        if p.required:
            kind += ", required"
    default = p.default
    shown = (
        "" if default in (None, False, (), []) or callable(default) else f" (default: `{default}`)"
    )
    help_text = " ".join((getattr(p, "help", "") or "").split())
    return f"| {name} | {kind} | {help_text}{shown} |"


def _walk(cmd: Any, path: list[str], out: list[str]) -> None:
    commands = getattr(cmd, "commands", None)
    if commands:
        if path:
            out += [f"## `skyfence {' '.join(path)}`", "", _first_paragraph(cmd.help), ""]
        for name in sorted(commands):
            _walk(commands[name], [*path, name], out)
        return
    heading = "###" if len(path) > 1 else "##"
    out += [f"{heading} `skyfence {' '.join(path)}`", "", _first_paragraph(cmd.help), ""]
    params = [p for p in cmd.params if p.name not in ("help",)]
    if params:
        out += ["| parameter | kind | meaning |", "|---|---|---|"]
        out += [_param_row(p) for p in params]
        out.append("")


def render() -> str:
    root = build_command()
    out = [
        "# Command-line reference",
        "",
        "Generated from the CLI by `scripts/gen_cli_docs.py`; do not edit by hand.",
        "Every command that prints results takes `--json`; errors are one line on stderr with",
        "exit code 1 (`skyfence --debug ...` shows the traceback), usage errors included.",
        "Negative numbers are values, never options: `skyfence links terminal 40.7 -74.0`.",
        "",
        "Global options: `--debug`, `--version`.",
        "",
    ]
    _walk(root, [], out)
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC} is stale: run .venv/bin/python scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
