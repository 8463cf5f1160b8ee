"""The Python examples of docs/policy.md run, and give what the page says."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_api_example_runs_as_documented(real_world):
    ns: dict = {}
    exec(compile(python_blocks()[0], str(DOC), "exec"), ns)
    d, out = ns["d"], ns["out"]
    assert (d.allowed, d.reason, d.rule_id) == (False, "speed", "ua-speed-75")
    assert (
        d.reasons[0].startswith("speed: rule 'ua-speed-75' (")
        and "120 km/h is above the limit of 75 km/h" in d.reasons[0]
    )
    assert out.allowed.tolist() == [True, True, False]
    assert out.state_names().tolist() == ["active", "active", "suspended"]
    assert out.rule_names().tolist() == ["ua-active", "ua-active", "crimea-suspended"]
    assert out.reason_names().tolist() == ["ok", "ok", "region_state"]


def test_every_cli_command_is_documented():
    from typer.main import get_command

    from skyfence.cli.policy import policy_app, terminal_app

    text = DOC.read_text(encoding="utf-8")
    for group, app in (("policy", policy_app), ("terminal", terminal_app)):
        for name in get_command(app).commands:  # type: ignore[attr-defined]
            assert f"skyfence {group} {name}" in text, (
                f"skyfence {group} {name} is not in docs/policy.md"
            )
    assert "skyfence decide" in text


def test_yaml_example_is_a_valid_policy():
    from skyfence.policy import parse_policy

    text = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)[0]
    p = parse_policy(text, "policy.md")
    assert [r.id for r in p.rules] == ["ua-active", "crimea-suspended"]
    assert [r.kind for r in p.terminal_rules] == [
        "speed_limit",
        "whitelist_only",
        "speed_limit",
        "altitude",
        "roaming",
        "maritime",
    ]
