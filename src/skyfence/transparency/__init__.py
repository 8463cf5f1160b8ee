"""Transparency-log formats others can check: C2SP signed notes, checkpoints, cosignatures,
tiles, and RFC 6962 proofs.

Depends only on the standard library and ``cryptography`` (and :mod:`skyfence.errors`, which is
standard library only), so a copy of skyfence installed with ``pip install --no-deps`` plus
``cryptography`` can verify a skyfence log: see ``docs/transparency.md`` and
``python -m skyfence.transparency --help``.

- :mod:`~skyfence.transparency.note` — signed notes (c2sp.org/signed-note), verifier keys;
- :mod:`~skyfence.transparency.checkpoint` — checkpoints (c2sp.org/tlog-checkpoint), witness
  cosignatures (c2sp.org/tlog-cosignature) and quorums;
- :mod:`~skyfence.transparency.merkle` — RFC 6962 hashes and proof verification;
- :mod:`~skyfence.transparency.tiles` — tile paths, entry bundles and a verifier of a tiled
  log (c2sp.org/tlog-tiles);
- :mod:`~skyfence.transparency.witness` — a witness (c2sp.org/tlog-witness) over SQLite.
"""
