"""The fast export reader (`verify_scan`) against the line-by-line strict reader.

`verify_export` reads plain entries through a fast path and, for large files, in worker
processes. Whatever the file holds, it must give what the reference gives:
`verify_records(iter_export(path))` — the same report, or the same ParseError (message and
line). Each edited export here is checked in this process and with two workers reading
chunks of a few hundred bytes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from skyfence.errors import ParseError
from skyfence.store import Store, verify_scan
from skyfence.store.canonical import canonical_json
from skyfence.store.merkle import leaf_hash
from skyfence.store.state import APPLIED_KINDS, Replay
from skyfence.store.verify import _read_key, iter_export, verify_export, verify_records
from skyfence.store.verify_scan import Run


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[list[str], str]:
    """A log's export lines (plain notes with awkward text, terminals with states, a key
    rotation) and its public key."""
    root = tmp_path_factory.mktemp("scan")
    with Store.open(f"sqlite:///{root / 's.db'}", key_dir=root / "keys") as store:
        store.log.append_many(
            [
                ("note", {"n": i, "text": t}, "alice", r)
                for i, (t, r) in enumerate(
                    [
                        ("a, b: c", "commas, colons: here"),
                        ('quote " and \\ and \n', "plain"),
                        ("żółw 🐢 \u2028", "unicode"),
                        ("", ""),
                    ]
                )
            ]
        )
        store.log.append_many(
            [("note", {"f": 0.1 * i, "big": 10**30}, "bob", "x") for i in range(5)]
        )
        for i in range(3):
            store.put_terminal({"id": f"T-{i}", "n": i}, actor="op", reason="r")
        store.log.checkpoint()
        store.log.rotate_key(operator="ops", reason="yearly")
        store.log.append_many([("note", {"n": i}, "carol", "late") for i in range(6)])
        path = root / "log.jsonl"
        store.log.export(path)
        pem = store.log.pubkey()
    text = path.read_text(encoding="utf-8")  # not splitlines: U+2028 is inside a line
    return [line + "\n" for line in text.split("\n")[:-1]], pem


def _outcome(fn: Any) -> Any:
    try:
        report = fn()
    except ParseError as exc:
        return ("ParseError", str(exc), exc.line, exc.reason)
    return report


def _check_same(path: Path, pem: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    reference = _outcome(
        lambda: verify_records(iter_export(path), [_read_key(pem)], source=str(path))
    )
    assert _outcome(lambda: verify_export(path, pem, workers=0)) == reference
    with monkeypatch.context() as m:
        m.setattr(verify_scan, "CHUNK_BYTES", 300)
        assert _outcome(lambda: verify_export(path, pem, workers=2)) == reference
    return reference


def _write(tmp_path: Path, lines: list[str] | bytes) -> Path:
    path = tmp_path / "x.jsonl"
    path.write_bytes(lines if isinstance(lines, bytes) else "".join(lines).encode("utf-8"))
    return path


def _entry_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if '"type": "entry"' in line]


def test_an_untouched_export_verifies_the_same(export, tmp_path, monkeypatch):
    lines, pem = export
    path = _write(tmp_path, lines)
    report = _check_same(path, pem, monkeypatch)
    assert report.ok and report.entries == len(_entry_lines(lines))
    runs = [item for item in verify_scan.scan_export(path, workers=0) if type(item) is Run]
    assert sum(len(run.leaves) // 32 for run in runs) == 13  # the notes with no state


def _dup_key(line: str) -> str:
    """A duplicate key inside the entry; the leaf hash is of what a last-wins reader sees."""
    record = json.loads(line)
    head = json.dumps(record, sort_keys=True, ensure_ascii=False)
    return head.replace('"author": ', '"author": "someone else", "author": ', 1) + "\n"


def _rehashed(line: str, change: Any) -> str:
    record = json.loads(line)
    change(record)
    record["leaf_hash"] = leaf_hash(canonical_json(record["entry"])).hex()
    return json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"


EDITS = {
    "duplicate key in an entry": lambda s: _dup_key(s),
    "duplicate key in the record": lambda s: s[:-2] + ', "type": "entry"}\n',
    "NaN in the data": lambda s: _rehashed(s, lambda r: r["entry"]["data"].update(x=1.5)).replace(
        "1.5", "NaN"
    ),
    "unsorted keys": lambda s: json.dumps(json.loads(s)) + "\n",
    "compact separators": lambda s: json.dumps(json.loads(s), separators=(",", ":")) + "\n",
    "escaped letter": lambda s: s.replace('"author": "', '"author": "\\u0061', 1),
    "escaped slash": lambda s: s.replace('"kind": "note"', '"kind": "no\\/te"', 1),
    "upper-case prev_root": lambda s: _rehashed(
        s, lambda r: r["entry"].update(prev_root=r["entry"]["prev_root"].upper())
    ),
    "prev_root with spaces": lambda s: _rehashed(
        s,
        lambda r: r["entry"].update(
            prev_root=" ".join(r["entry"]["prev_root"][i : i + 2] for i in range(0, 64, 2))[:64]
        ),
    ),
    "another index, rehashed": lambda s: _rehashed(s, lambda r: r.update(index=r["index"] + 1)),
    "entry index differs": lambda s: _rehashed(s, lambda r: r["entry"].update(index=10**6)),
    "float index": lambda s: _rehashed(s, lambda r: r["entry"].update(index=float(r["index"]))),
    "boolean index": lambda s: _rehashed(s, lambda r: r.update(index=True)),
    "data edited, rehashed": lambda s: _rehashed(s, lambda r: r["entry"].update(data={"n": -1})),
    "data edited": lambda s: s.replace('"data": {', '"data": {"z": 1, ', 1),
    "kind made special": lambda s: _rehashed(s, lambda r: r["entry"].update(kind="key.rotate")),
    "state added": lambda s: _rehashed(s, lambda r: r["entry"].update(state={})),
    "extra record field": lambda s: s[:-2] + ', "zz": 1}\n',
    "CRLF": lambda s: s[:-1] + "\r\n",
    "trailing space": lambda s: s[:-1] + " \n",
    "leading space": lambda s: " " + s,
    "blank line after": lambda s: s + "\n  \n",
    "cut in half": lambda s: s[: len(s) // 2] + "\n",
    "lone surrogate": lambda s: s.replace('"author": "', '"author": "\\ud800', 1),
    "not a record": lambda s: "[1, 2]\n",
    "deleted": lambda s: "",
    "twice": lambda s: s + s,
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_each_edit_gives_the_reference_outcome(export, tmp_path, monkeypatch, edit):
    lines, pem = export
    for at in _entry_lines(lines)[::4]:
        changed = list(lines)
        changed[at] = EDITS[edit](lines[at])
        _check_same(_write(tmp_path, changed), pem, monkeypatch)


def test_a_duplicate_key_hashed_as_read_is_refused(export, tmp_path, monkeypatch):
    lines, pem = export
    at = _entry_lines(lines)[2]
    changed = list(lines)
    changed[at] = _dup_key(lines[at])
    outcome = _check_same(_write(tmp_path, changed), pem, monkeypatch)
    assert outcome[0] == "ParseError" and "appears twice" in outcome[1]
    assert outcome[2] == at + 1


def test_whole_file_edits_give_the_reference_outcome(export, tmp_path, monkeypatch):
    lines, pem = export
    text = "".join(lines).encode("utf-8")
    cases = [
        b"",
        b"\n\n",
        text.replace(b"\n", b"\r\n"),
        text[:-1],  # no final newline
        text + b"\xff\xfe\n",
        b"\xef\xbb\xbf" + text,  # a byte-order mark
        text[: len(text) // 2],
        "".join(lines[1:]).encode("utf-8"),  # no header
        "".join([lines[0], *reversed(lines[1:])]).encode("utf-8"),
    ]
    for case in cases:
        _check_same(_write(tmp_path, case), pem, monkeypatch)


def test_random_byte_edits_give_the_reference_outcome(export, tmp_path, monkeypatch):
    lines, pem = export
    text = "".join(lines).encode("utf-8")
    rng = random.Random(12)
    for _ in range(60):
        data = bytearray(text)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.5:
                data[at] = rng.choice(b'0123456789abcdef ,:"{}[]\\\n')
            elif choice < 0.75:
                del data[at : at + rng.randint(1, 40)]
            else:
                data[at:at] = data[rng.randrange(len(data)) :][: rng.randint(1, 80)]
        _check_same(_write(tmp_path, bytes(data)), pem, monkeypatch)


def test_a_line_too_long_is_refused_at_its_line(export, tmp_path, monkeypatch):
    lines, pem = export
    monkeypatch.setattr(verify_scan, "MAX_LINE_BYTES", 700)
    monkeypatch.setattr("skyfence.store.verify.MAX_LINE_BYTES", 700)
    long_at = max(range(len(lines)), key=lambda i: len(lines[i].encode()))
    assert len(lines[long_at].encode()) > 700
    for cut in (None, 699, 700, 701):
        changed = list(lines)
        if cut is not None:  # an unterminated last line of about the limit
            changed = changed[:long_at] + ["x" * cut]
        outcome = _check_same(_write(tmp_path, changed), pem, monkeypatch)
        assert outcome[0] == "ParseError"


def test_plain_kinds_change_nothing_in_the_replay():
    """The fast reader skips the replay of entries of other kinds: it must be a no-op."""
    for kind in ("note", "key.create", "log.origin", "anything"):
        replay = Replay()
        before = replay.state()
        assert replay.feed(0, {"kind": kind, "data": {"x": 1}}) is None
        assert replay.state() == before
    for kind in APPLIED_KINDS:  # each is acted on: an empty one is malformed or refused
        assert Replay().feed(0, {"kind": kind, "data": {}}) is not None
