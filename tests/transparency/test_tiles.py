"""tlog-tiles: the spec's examples, a store's log written as tiles and re-read by a reader
written here from the spec text alone, and tampering with the tiles found by the verifier."""

from __future__ import annotations

import base64
import hashlib
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from skyfence.cli.main import main
from skyfence.errors import IntegrityError, NotFoundError
from skyfence.store.tiles import read, write_tiles
from skyfence.transparency.note import parse_vkey
from skyfence.transparency.tiles import (
    directory_reader,
    parse_tile_path,
    tile_path,
    tiles_for_size,
    verify_tiles,
)


def test_spec_examples_of_tile_counts_and_paths():
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
    # level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width 17,
    # and one partial level 2 tile of width 1"
    tiles = list(tiles_for_size(70_000))
    assert sum(1 for t in tiles if t[0] == 0 and t[2] == 256) == 273
    assert [t for t in tiles if t[0] == 0 and t[2] != 256] == [(0, 273, 112)]
    assert [t for t in tiles if t[0] == 1] == [(1, 0, 256), (1, 1, 17)]
    assert [t for t in tiles if t[0] == 2] == [(2, 0, 1)]
    # "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
    # tile of width 1"
    assert list(tiles_for_size(256)) == [(0, 0, 256), (1, 0, 1)]
    # "index 1234067 will be encoded as x001/x234/067"
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert parse_tile_path("tile/3/x001/x234/067.p/5") == ("3", 1234067, 5)
    assert parse_tile_path("tile/entries/000") == ("entries", 0, 256)
    for bad in ["tile/0/1", "tile/01/000", "tile/0/x000/001", "tile/0/000.p/256", "tile/0/000.p/0"]:
        with pytest.raises(NotFoundError):
            parse_tile_path(bad)


# --- an independent reader, from the tlog-tiles, tlog-checkpoint and RFC 6962 texts ---------------
def _mth(hashes: list[bytes]) -> bytes:
    """MTH over leaf hashes (RFC 6962 §2.1 recursion)."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(hashes[:k]) + _mth(hashes[k:])).digest()


def _index_path(n: int) -> str:
    digits = f"{n:03d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def spec_reader(root: Path, vkey: str) -> tuple[int, list[bytes]]:
    """Read a tiled log as the specs describe it; returns (size, entries) or fails."""
    note = (root / "checkpoint").read_text(encoding="utf-8")
    text, _, sigs = note.rpartition("\n\n")
    origin, size_line, root_b64 = text.split("\n")[:3]
    size, want_root = int(size_line), base64.b64decode(root_b64)
    name, key_hex, material = vkey.split("+", 2)
    pub = base64.b64decode(material)[1:]
    for line in sigs.splitlines():
        _, sig_name, blob64 = line.split(" ")
        blob = base64.b64decode(blob64)
        if sig_name == name and blob[:4].hex() == key_hex:
            Ed25519PublicKey.from_public_bytes(pub).verify(blob[4:], (text + "\n").encode())
            break
    else:
        raise AssertionError("no signature by the log's key")
    assert origin == name
    entries: list[bytes] = []
    for n in range((size + 255) // 256):
        width = min(256, size - 256 * n)
        path = (
            root / "tile" / "entries" / (_index_path(n) + ("" if width == 256 else f".p/{width}"))
        )
        data = path.read_bytes()
        at = 0
        while at < len(data):
            (length,) = struct.unpack(">H", data[at : at + 2])
            entries.append(data[at + 2 : at + 2 + length])
            at += 2 + length
    assert len(entries) == size
    leaves = [hashlib.sha256(b"\x00" + e).digest() for e in entries]
    assert _mth(leaves) == want_root
    # level 0 tiles hold the leaf hashes; level 1 the MTH of each full level-0 tile
    for level in (0, 1):
        span = 256**level
        count = size // span
        hashes = [_mth(leaves[i * span : (i + 1) * span]) for i in range(count)]
        for n in range((count + 255) // 256):
            width = min(256, count - 256 * n)
            path = (
                root
                / "tile"
                / str(level)
                / (_index_path(n) + ("" if width == 256 else f".p/{width}"))
            )
            assert path.read_bytes() == b"".join(hashes[256 * n : 256 * n + width])
    return size, entries


@pytest.fixture()
def big_log(store):
    store.log.append_many([("note", {"i": i}, "alice", "fill") for i in range(600)])
    return store


def test_written_tiles_are_read_back_by_the_spec_reader(big_log, tmp_path):
    out = tmp_path / "tiles"
    summary = write_tiles(big_log.log, out)
    size = big_log.log.size()
    assert summary.tree_size == size and summary.bundles == 3 and summary.tiles == 4
    got_size, entries = spec_reader(out, big_log.log.vkey())
    assert got_size == size
    assert entries == [e.encode() for e in _stored_json(big_log)]
    # the files and what a server would serve are the same bytes
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        assert read(big_log.log, rel) == path.read_bytes(), rel
    with pytest.raises(NotFoundError):
        read(big_log.log, "tile/0/002")  # level-0 tile 2 is partial in this tree
    report = verify_tiles(directory_reader(out), parse_vkey(big_log.log.vkey()))
    assert report.entries == size and report.tiles == 4


def _stored_json(store) -> list[str]:
    from skyfence.store.canonical import canonical_json

    return [canonical_json(e.entry).decode() for e in store.log.entries(0, None)]


@pytest.mark.parametrize(
    "target, why",
    [
        ("tile/0/000", "entry 5 does not hash to its leaf hash in tile/0/000"),
        ("tile/1/000.p/2", "tile/1/000.p/2: hash 0 does not match the tiles of level 0"),
        ("tile/entries/001", "entry 261 does not hash to its leaf hash in tile/0/001"),
    ],
)
def test_tampered_tiles_are_named(big_log, tmp_path, target, why):
    out = tmp_path / "tiles"
    write_tiles(big_log.log, out)
    path = out / target
    data = bytearray(path.read_bytes())
    if target.startswith("tile/entries"):
        # change one character inside entry 261 (5 entries into bundle 1)
        at = 0
        for _ in range(5):
            at += 2 + struct.unpack(">H", data[at : at + 2])[0]
        start = data.index(b'"reason":"fill"', at)
        data[start + 11] = ord("F")
    else:
        data[(5 if target.startswith("tile/0") else 0) * 32] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=why):
        verify_tiles(directory_reader(out), parse_vkey(big_log.log.vkey()), skyfence_entries=True)


def test_tiles_cli_roundtrip(isolated_env, capsys):
    from skyfence.settings import load_settings
    from skyfence.store import Store

    with Store.open(settings=load_settings(), require_distinct_os_users=False) as store:
        store.log.append("note", {"text": "hello"}, author="alice", reason="example")
    out = isolated_env / "tiles"
    assert main(["log", "tiles", str(out), "--json"]) == 0
    import json

    summary = json.loads(capsys.readouterr().out)
    assert summary["origin"] == "skyfence.local/policy-log"
    assert main(["log", "verify", str(out), "--key", summary["vkey"]]) == 0
    assert "OK" in capsys.readouterr().out
    (out / "tile" / "0" / f"000.p/{summary['tree_size']}").write_bytes(
        b"\0" * 32 * summary["tree_size"]
    )
    assert main(["log", "verify", str(out), "--key", summary["vkey"]]) == 1
    assert "does not hash to its leaf hash in tile/0/000" in capsys.readouterr().err
    # a file where the directory should be: one line, exit 1
    assert main(["log", "tiles", "/etc/passwd/x"]) == 1
    assert main(["log", "export", "/etc/passwd/x"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2
