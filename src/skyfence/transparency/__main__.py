"""``python -m skyfence.transparency``: check a skyfence log with nothing but ``cryptography``.

    python -m skyfence.transparency tiles DIR_OR_URL --vkey VKEY [--witness VKEY ...]
        [--quorum N] [--trusted SIZE:ROOT_BASE64]
    python -m skyfence.transparency checkpoint FILE --vkey VKEY [--witness VKEY ...] [--quorum N]

Exit code 0 and one line ``OK ...`` when the log verifies; 1 and one line on stderr naming
the first problem otherwise.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from skyfence.errors import IntegrityError, SkyfenceError
from skyfence.transparency.checkpoint import verify_checkpoint
from skyfence.transparency.note import COSIGNATURE_V1, Verifier, parse_vkey
from skyfence.transparency.tiles import directory_reader, verify_tiles


def http_reader(prefix: str, timeout_s: float = 30.0) -> Callable[[str], bytes]:
    """``read(path)`` over HTTP(S) for a log served at ``prefix``."""
    base = prefix.rstrip("/") + "/"

    def read(path: str) -> bytes:
        try:
            with urllib.request.urlopen(base + path, timeout=timeout_s) as response:  # noqa: S310
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as exc:
            raise IntegrityError(f"{base + path}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise IntegrityError(f"cannot fetch {base + path}: {exc}") from None

    return read


def _witnesses(values: Sequence[str]) -> list[Verifier]:
    out = []
    for value in values:
        verifier = parse_vkey(value)
        if verifier.sig_type != COSIGNATURE_V1:
            raise IntegrityError(f"--witness {verifier.name}: expected a type 0x04 cosigner key")
        out.append(verifier)
    return out


def _trusted(value: str | None) -> tuple[int, bytes] | None:
    if value is None:
        return None
    size, _, root = value.partition(":")
    try:
        raw = base64.b64decode(root, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if not size.isdigit() or len(raw) != 32:
        raise IntegrityError(
            "--trusted must be SIZE:ROOT (the root in base64, as a checkpoint has it)"
        )
    return int(size), raw


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m skyfence.transparency",
        description="Verify a skyfence transparency log (C2SP checkpoints and tiles).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    tiles = sub.add_parser("tiles", help="verify a tiled log: a directory or an http(s) prefix")
    tiles.add_argument("location")
    note = sub.add_parser("checkpoint", help="verify one checkpoint note file")
    note.add_argument("location")
    for p in (tiles, note):
        p.add_argument("--vkey", required=True, help="the log's verifier key")
        p.add_argument("--witness", action="append", default=[], help="a trusted witness vkey")
        p.add_argument("--quorum", type=int, default=0, help="witness cosignatures required")
    tiles.add_argument("--trusted", help="SIZE:ROOT of a checkpoint seen before")
    tiles.add_argument(
        "--any-entries",
        action="store_true",
        help="do not check skyfence's entry chain (index, prev_root): any tiled log",
    )
    args = parser.parse_args(argv)
    try:
        log = parse_vkey(args.vkey)
        witnesses = _witnesses(args.witness)
        if args.command == "checkpoint":
            data = Path(args.location).read_bytes()
            cp = verify_checkpoint(data, log, witnesses=witnesses, quorum=args.quorum)
            print(
                f"OK: {cp.origin} size {cp.size} root {base64.b64encode(cp.root_hash).decode()}"
                f" cosigned by {len(cp.witnesses)} trusted witness(es)"
            )
            return 0
        location = args.location
        read = (
            http_reader(location)
            if location.startswith(("http://", "https://"))
            else directory_reader(location)
        )
        report = verify_tiles(
            read,
            log,
            witnesses=witnesses,
            quorum=args.quorum,
            trusted=_trusted(args.trusted),
            skyfence_entries=not args.any_entries,
        )
    except (SkyfenceError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    cp = report.checkpoint
    print(
        f"OK: {cp.origin}: {report.entries} entries, {report.tiles} tiles, {report.bundles} "
        f"entry bundles, root {cp.root_hash.hex()}, cosigned by {len(cp.witnesses)} trusted "
        "witness(es)"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
