"""Hostile input: the note, checkpoint, vkey, tile-path and witness-request parsers answer
any input with their own error (or an HTTP status), never an unexpected exception."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.errors import NotFoundError, ParseError
from skyfence.transparency.checkpoint import Cosigner, parse_checkpoint_text
from skyfence.transparency.note import Signer, parse, parse_vkey
from skyfence.transparency.tiles import decode_bundle, parse_tile_path
from skyfence.transparency.witness import Witness

NOTE_ALPHABET = st.sampled_from(list("ab+/=\n \u2014 0123456789AQx.p"))
notes = st.one_of(st.text(NOTE_ALPHABET, max_size=200), st.binary(max_size=200))


@given(notes)
@settings(max_examples=300, deadline=None)
def test_note_parsers_refuse_with_parse_errors(data):
    for fn in (
        parse,
        lambda d: parse_checkpoint_text(d if isinstance(d, str) else d.decode("latin-1")),
    ):
        try:
            fn(data)
        except ParseError:
            pass


@given(st.text(max_size=120))
@settings(max_examples=300, deadline=None)
def test_vkey_and_tile_path_parsers(text):
    try:
        parse_vkey(text)
    except ParseError:
        pass
    try:
        parse_tile_path(text)
    except NotFoundError:
        pass


@given(st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_bundles(data):
    try:
        decode_bundle(data)
    except ParseError:
        pass


@pytest.fixture(scope="module")
def witness(tmp_path_factory):
    log = Signer.from_seed("example.com/log", bytes(32))
    w = Cosigner.from_seed("w.example/1", bytes([1]) * 32)
    return Witness(tmp_path_factory.mktemp("w") / "w.db", w, [log.verifier()])


@given(
    body=st.one_of(
        st.binary(max_size=300),
        notes.map(lambda n: n if isinstance(n, bytes) else ("old 0\n\n" + n).encode()),
    )
)
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_witness_answers_every_body_with_a_status(witness, body):
    assert witness.add_checkpoint(body).status in (400, 403, 404, 409, 422)
