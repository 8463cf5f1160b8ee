"""Inputs that bricked the store, wrapped silently, exhausted the machine or slipped past the
log verifier on the parent commit: a huge number, the year 9999, a YAML alias bomb, a log
rolled back to an older checkpoint, a duplicated JSON key, a terminal import killed half-way
(2,247 of 3,000 rows, then a false tamper alarm), a binary terminal file, unknown countries
and whitelists, and out-of-range coordinates that were decided instead of refused.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from skyfence.app.changes import policy_in_force, propose
from skyfence.app.decide import decide
from skyfence.app.terminals import add, import_file, list_terminals
from skyfence.errors import InputError, ParseError
from skyfence.policy import Terminal
from skyfence.store import Store, load_trusted_checkpoint, verify_export

BRICK = """\
rules:
  - {id: ua, region: UA, state: active}
terminal_rules:
  - {id: alt, kind: altitude, max_altitude_m: 20000000000000000}
"""


def test_a_valid_policy_never_bricks_the_store(app, sec, tmp_path):
    path = tmp_path / "brick.yaml"
    path.write_text(BRICK, encoding="utf-8")
    try:
        res = propose(app, sec.ALICE, path, reason="huge ceiling")
    except InputError as exc:  # refused before anything is written: reads back differently
        assert "read back" in str(exc) or "reads back" in str(exc)
        res = None
    # whatever happened, every command still works
    found = policy_in_force(app, sec.ALICE)
    if res is not None:
        assert found is not None and found.version == res.version
        rule = found.policy.rule("alt")
        assert rule.max_altitude_m == 20000000000000000.0  # exactly what was applied
    else:
        assert found is None
    decide(app, sec.ALICE, "T1", *sec.KHARKIV, policy_file=path)
    with Store.open(settings=app.settings) as store:
        assert store.verify().ok


def test_year_9999_is_refused_not_wrapped(app, sec, tmp_path):
    path = tmp_path / "forever.yaml"
    path.write_text(
        "rules:\n  - {id: ua, region: UA, state: active}\n"
        "  - {id: c, region: crimea, state: suspended, effective_until: 9999-12-31T00:00:00Z}\n",
        encoding="utf-8",
    )
    with pytest.raises(ParseError, match="effective_until"):
        propose(app, sec.ALICE, path, reason="suspend for good")


ALIAS_BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["rules: *a8"]
)
LIMITED = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    from skyfence.cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _validate(path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", LIMITED, "policy", "validate", "--no-regions", str(path)],
            capture_output=True,
            text=True,
            timeout=8,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"policy validate ran past 8 s on {path.stat().st_size} bytes")
    return done, time.monotonic() - start


def test_alias_bomb_fails_within_two_seconds(tmp_path):
    """The bomb costs under 2 s more than validating a small policy the same way (the start of
    the interpreter and the CLI is measured, not assumed: it varies with the machine's load)."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB, encoding="utf-8")
    assert len(ALIAS_BOMB.encode()) < 600
    plain = tmp_path / "plain.yaml"
    plain.write_text("rules:\n  - {id: ua, region: UA, state: active}\n", encoding="utf-8")
    done, elapsed = _validate(bomb)
    assert done.returncode == 1 and done.stderr.startswith("skyfence: error:"), done.stderr[-300:]
    assert "internal error" not in done.stderr
    _, baseline = _validate(plain)
    assert elapsed < 2.0 + baseline, (elapsed, baseline)


def test_rolled_back_export_is_refused_with_a_trusted_checkpoint(app, ukraine, sec, tmp_path):
    from skyfence.app.log import checkpoint, export, pubkey

    sec.apply_approved(app, ukraine["ua"])
    old = tmp_path / "old.jsonl"
    export(app, sec.ALICE, old)  # what the operator would like to serve later
    import_file(app, sec.ALICE, ukraine["terms"])
    seen = checkpoint(app, sec.ALICE)  # an auditor keeps this one
    pin = tmp_path / "seen.json"
    pin.write_text(
        json.dumps(
            {k: getattr(seen, k) for k in ("tree_size", "root_hash", "time", "key_id", "signature")}
        ),
        encoding="utf-8",
    )
    pem, _ = pubkey(app, sec.ALICE)
    assert verify_export(old, pem).ok  # on its own the old export is a valid log
    trusted = load_trusted_checkpoint(pin)
    report = verify_export(old, pem, trusted_checkpoint=trusted)
    assert not report.ok and "rolled back" in report.problem
    new = tmp_path / "new.jsonl"
    export(app, sec.ALICE, new)
    assert verify_export(new, pem, trusted_checkpoint=trusted).ok
    # a pinned size and root as text
    short = load_trusted_checkpoint(f"{seen.tree_size}:{seen.root_hash}")
    assert not verify_export(old, pem, trusted_checkpoint=short).ok
    # the database restored from an old backup is refused the same way
    with Store.open(settings=app.settings) as store:
        assert store.verify(trusted_checkpoint=trusted).ok


def test_duplicated_key_in_an_export_is_refused(app, ukraine, sec, tmp_path):
    from skyfence.app.log import export, pubkey

    sec.apply_approved(app, ukraine["ua"])
    path = tmp_path / "log.jsonl"
    export(app, sec.ALICE, path)
    pem, _ = pubkey(app, sec.ALICE)
    lines = path.read_text(encoding="utf-8").splitlines()
    # a reader keeping the first "author" sees mallory; one keeping the last sees alice
    i = next(n for n, line in enumerate(lines) if '"author": "alice"' in line)
    lines[i] = lines[i].replace('"author": "alice"', '"author": "mallory", "author": "alice"', 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ParseError, match=f"line {i + 1}: key 'author' appears twice"):
        verify_export(path, pem)


KILLED_IMPORT = textwrap.dedent(
    """
    import os, sys
    from skyfence.app import App
    from skyfence.app.identity import Principal
    from skyfence.app.terminals import import_file
    from skyfence.settings import load_settings
    app = App(load_settings(data_dir=sys.argv[1], database_url=sys.argv[2]))
    def progress(done, total):
        if done == 1500:
            os.kill(os.getpid(), 9)  # SIGKILL half-way through the writes
    import_file(app, Principal.local("alice", os_user="alice"), sys.argv[3], progress=progress)
    """
)


def test_terminal_import_killed_half_way_leaves_nothing_and_no_false_alarm(app, sec, tmp_path):
    big = tmp_path / "terms.csv"
    rows = [f"T{i:05d},UA,fixed,UA,false" for i in range(3000)]
    big.write_text("id,country,plan,whitelists,speed_exempt\n" + "\n".join(rows) + "\n")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_IMPORT,
            str(app.settings.data_dir),
            app.settings.resolved_database_url(),
            str(big),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-500:]
    assert list_terminals(app, sec.ALICE) == []
    with Store.open(settings=app.settings) as store:
        report = store.verify()
        assert report.ok, report.problem
    assert import_file(app, sec.ALICE, big).imported == 3000
    assert len(list_terminals(app, sec.ALICE)) == 3000


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)) * 4, b"id,country,plan\n\xff\xfe\x00\x01,UA,fixed\n", b"\x00" * 64],
    ids=["binary", "latin-garbage", "nul"],
)
def test_binary_terminal_file_is_a_clean_parse_error(app, sec, tmp_path, content):
    path = tmp_path / "terms.csv"
    path.write_bytes(content)
    with pytest.raises(ParseError, match="terms.csv"):
        import_file(app, sec.ALICE, path)


def test_terminal_country_and_whitelists_are_checked(app, ukraine, sec):
    sec.apply_approved(app, ukraine["ua"])
    with pytest.raises(InputError, match="country 'ZZ' .* is not a country of the worldview"):
        add(app, sec.ALICE, Terminal("T1", "ZZ", "fixed"))
    with pytest.raises(InputError, match="whitelist 'UAA' .* neither a region"):
        add(app, sec.ALICE, Terminal("T1", "UA", "fixed", whitelists=("UAA",)))
    with pytest.raises(InputError, match="reads a file"):
        add(app, sec.ALICE, Terminal("T1", "UA", "fixed", whitelists=("geojson:/dev/zero",)))
    add(app, sec.ALICE, Terminal("T1", "UA", "fixed", whitelists=("UA", "ua-whitelist")))
    assert [t["id"] for t in list_terminals(app, sec.ALICE)] == ["T1"]


@pytest.mark.parametrize(
    "lat, lon", [(95, 36.23), (-90.5, 0), (49.99, 200), (float("nan"), 10), (10, float("inf"))]
)
def test_out_of_range_coordinates_are_an_error_not_a_decision(app, sec, lat, lon):
    with pytest.raises(InputError, match="out of range"):
        decide(app, sec.ALICE, "T1", lat, lon)


def test_cli_decide_out_of_range_exits_1(capsys, tmp_path, monkeypatch):
    from skyfence.cli.main import main

    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "data"))
    assert main(["decide", "95", "36.23", "--terminal", "T1"]) == 1
    err = capsys.readouterr().err
    assert err == "skyfence: error: latitude 95.0 is out of range; expected -90..90 degrees\n"
    assert not (tmp_path / "data").exists()  # refused before the store was opened


def test_cli_binary_import_exits_1_without_internal_error(capsys, tmp_path, monkeypatch):
    from skyfence.cli.main import main

    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "t.csv"
    path.write_bytes(os.urandom(2048) + b"\xff")
    assert main(["terminal", "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skyfence: error: ") and err.count("\n") == 1  # no bar, one line
    assert "internal error" not in err and ("not UTF-8" in err or "NUL" in err)


@pytest.fixture(autouse=True)
def _no_real_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "env-data"))
