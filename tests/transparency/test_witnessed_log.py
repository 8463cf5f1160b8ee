"""A skyfence log witnessed end to end: the CLI submits checkpoints to a witness over HTTP,
the cosigned checkpoint is published and required by `log verify --quorum`, and a forked
copy of the database (a split view) is refused by the witness."""

from __future__ import annotations

import json
import shutil

from skyfence.cli.main import main
from skyfence.settings import load_settings
from skyfence.store import Store
from skyfence.store.witnessing import parse_witness, submit
from skyfence.transparency.checkpoint import Cosigner

W1 = Cosigner.from_seed("witness.example/w1", bytes([2]) * 32)
W2 = Cosigner.from_seed("witness.example/w2", bytes([3]) * 32)


def _out(capsys) -> str:
    return capsys.readouterr().out


def test_cli_witnessing_and_quorum(isolated_env, running_witness, capsys):
    with Store.open(settings=load_settings(), require_distinct_os_users=False) as store:
        store.log.append("note", {"text": "one"}, author="alice", reason="example")
        vkey = store.log.vkey()
    url1, url2 = running_witness(vkey, W1), running_witness(vkey, W2)
    w1, w2 = W1.verifier().vkey(), W2.verifier().vkey()
    assert main(["log", "witness", "--witness", f"{w1} {url1}", "--json"]) == 0
    outcome = json.loads(_out(capsys))
    assert outcome["cosigned_by"] == ["witness.example/w1"] and not outcome["refused"]
    export = isolated_env / "log.jsonl"
    assert main(["log", "export", str(export)]) == 0
    _out(capsys)
    base = ["log", "verify", str(export), "--key", vkey, "--witness", w1, "--witness", w2]
    assert main([*base, "--quorum", "1"]) == 0
    _out(capsys)
    assert main([*base, "--quorum", "2"]) == 1
    assert "cosigned by 1 trusted witness(es) (witness.example/w1), fewer than the quorum of 2" in (
        capsys.readouterr().err
    )
    # the second witness cosigns the same checkpoint: quorum 2 is met, in tiles too
    assert main(["log", "witness", "--witness", f"{w2} {url2}", "--json"]) == 0
    _out(capsys)
    tiles = isolated_env / "tiles"
    assert main(["log", "tiles", str(tiles), "--json"]) == 0
    _out(capsys)
    assert (
        main(
            [
                "log",
                "verify",
                str(tiles),
                "--key",
                vkey,
                "--witness",
                w1,
                "--witness",
                w2,
                "--quorum",
                "2",
            ]
        )
        == 0
    )
    _out(capsys)
    # the log grows; the witness follows with a consistency proof
    with Store.open(settings=load_settings(), require_distinct_os_users=False) as store:
        store.log.append("note", {"text": "two"}, author="alice", reason="example")
    assert main(["log", "witness", "--witness", f"{w1} {url1}", "--json"]) == 0
    assert json.loads(_out(capsys))["tree_size"] == 4
    # --quorum without enough --witness keys is a usage error, before any work
    assert main(["log", "verify", str(export), "--key", vkey, "--quorum", "1"]) == 1
    assert "--quorum 1 needs at least 1 --witness" in capsys.readouterr().err


def test_a_forked_database_is_refused_by_the_witness(tmp_path, running_witness, clock):
    """The operator keeps two copies of the database and grows each differently (a split
    view, both signed by the same key). The witness cosigns the first and refuses the second."""
    keys = tmp_path / "keys"
    main_url = f"sqlite:///{tmp_path / 'a.db'}"
    with Store.open(main_url, key_dir=keys, clock=clock, require_distinct_os_users=False) as store:
        store.log.append("note", {"text": "common"}, author="alice", reason="x")
        vkey = store.log.vkey()
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
    url = running_witness(vkey, W1)
    witness = parse_witness(f"{W1.verifier().vkey()} {url}")
    with Store.open(main_url, key_dir=keys, clock=clock, require_distinct_os_users=False) as a:
        a.log.append("note", {"text": "shown to regulators"}, author="alice", reason="x")
        assert submit(a.log, [witness]).cosigned_by == ["witness.example/w1"]
    fork_url = f"sqlite:///{tmp_path / 'b.db'}"
    with Store.open(fork_url, key_dir=keys, clock=clock, require_distinct_os_users=False) as b:
        b.log.append("note", {"text": "shown to journalists"}, author="alice", reason="x")
        assert b.log.verify().ok  # on its own, the fork is a valid, signed log
        outcome = submit(b.log, [witness])
    assert outcome.cosigned_by == []
    assert "HTTP 422" in outcome.refused["witness.example/w1"]
    assert "split view" in outcome.refused["witness.example/w1"]


def test_witness_serve_refuses_a_bad_key_in_one_line(tmp_path, capsys):
    """`witness serve` names the key it cannot use and says how to make one, before serving."""
    from clirun import run

    log_vkey = Cosigner.from_seed("skyfence.example/log", bytes([4]) * 32).verifier().vkey()
    base = ["witness", "serve", "--name", "w", "--log", log_vkey, "--db", str(tmp_path / "w.db")]

    code, _, err = run(capsys, *base, "--key", str(tmp_path / "missing.pem"))
    assert code == 1 and err.count("\n") == 1
    assert "cannot read the witness key" in err and "No such file" in err
    assert "skyfence witness keygen NAME --out FILE" in err

    not_a_key = tmp_path / "notes.pem"
    not_a_key.write_text("hello\n")
    code, _, err = run(capsys, *base, "--key", str(not_a_key))
    assert code == 1 and "cannot read the witness key" in err

    key = tmp_path / "w.pem"
    assert run(capsys, "witness", "keygen", "w", "--out", str(key))[0] == 0
    key.chmod(0o644)
    code, _, err = run(capsys, *base, "--key", str(key))
    assert code == 1 and "readable by others" in err and f"chmod 600 {key}" in err
    assert not (tmp_path / "w.db").exists()
