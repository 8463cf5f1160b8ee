"""C2SP signed notes and checkpoints against the specs' examples, Go sumdb's vectors, and an
independent implementation written here from the spec text alone."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from skyfence.errors import ParseError
from skyfence.transparency.checkpoint import (
    EMPTY_ROOT,
    Checkpoint,
    Cosigner,
    QuorumError,
    parse_checkpoint_text,
    sign_checkpoint,
    verify_checkpoint,
)
from skyfence.transparency.merkle import leaf_hash, node_hash, verify_consistency
from skyfence.transparency.note import (
    NoteVerificationError,
    Signer,
    Verifier,
    open_note,
    parse,
    parse_vkey,
    sign,
)

# --- c2sp.org/signed-note, "Verifier keys / Example" ------------------------------------------
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n"
    "\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mF"
    "XmRKuwHjG1Yu72IneyaQM=\n"
)

# --- golang.org/x/mod/sumdb/note: ExampleSign / ExampleSign_add_signatures / TestOpen --------
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = (
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"  # seed: 32 zero bytes
)
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdn"
    "gotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwn"
    "WLox33WWd1RvMc+QQ=\n"
)

# --- c2sp.org/tlog-checkpoint example (no public key is published for it: parse only) ------
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Z"
    "hcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrD"
    "JsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)


def _peter_seed() -> bytes:
    # PRIVATE+KEY+<name>+<id>+base64(0x01 || 32-byte seed); the base64 itself holds '+'
    blob = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert blob[0] == 0x01
    return blob[1:]


# --- an independent implementation from the spec text -------------------------------------------
def spec_key_id(name: str, sig_type: int, pub: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\x0a" + bytes([sig_type]) + pub).digest()[:4]


def spec_sign_line(name: str, private: Ed25519PrivateKey, text: str) -> str:
    pub = private.public_key().public_bytes_raw()
    blob = spec_key_id(name, 1, pub) + private.sign(text.encode())
    return "\u2014 " + name + " " + base64.b64encode(blob).decode() + "\n"


def spec_verify(note: str, name: str, pub: bytes) -> bool:
    text, _, sigs = note.rpartition("\n\n")
    text += "\n"
    for line in sigs.splitlines():
        dash, line_name, b64 = line.split(" ")
        blob = base64.b64decode(b64)
        if dash == "\u2014" and line_name == name and blob[:4] == spec_key_id(name, 1, pub):
            Ed25519PublicKey.from_public_bytes(pub).verify(blob[4:], text.encode())
            return True
    return False


def spec_cosignature_ok(text: str, line: str, name: str, pub: bytes) -> bool:
    blob = base64.b64decode(line.split(" ")[2])
    if blob[:4] != spec_key_id(name, 4, pub):
        return False
    timestamp = int.from_bytes(blob[4:12], "big")
    message = b"cosignature/v1\n" + f"time {timestamp}\n".encode() + text.encode()
    Ed25519PublicKey.from_public_bytes(pub).verify(blob[12:], message)
    return True


# --- the specs' and Go's examples -----------------------------------------------------------------
def test_spec_example_note_verifies_with_its_vkey():
    verifier = parse_vkey(SPEC_VKEY)
    assert verifier.name == "example.com/foo" and verifier.key_id == 0x530D903A
    assert verifier.vkey() == SPEC_VKEY
    opened = open_note(SPEC_NOTE, [verifier])
    assert opened.text == "This is an example message.\n"
    with pytest.raises(NoteVerificationError, match="does not verify"):
        open_note(SPEC_NOTE.replace("example message", "exampel message"), [verifier])


def test_go_sumdb_keys_and_signatures_are_reproduced():
    peter = Signer.from_seed("PeterNeumann", _peter_seed())
    assert peter.verifier().vkey() == PETER_VKEY
    # Ed25519 is deterministic: the same note, byte for byte
    assert sign(GO_TEXT, [peter]) == GO_TEXT + "\n" + PETER_SIG
    enoch = Signer.from_seed("EnochRoot", bytes(32))
    assert enoch.verifier().vkey() == ENOCH_VKEY
    both = sign(GO_TEXT, [enoch], existing=parse(GO_TEXT + "\n" + PETER_SIG).signatures)
    assert both == GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG


def test_open_ignores_unknown_keys_and_refuses_bad_known_ones():
    peter, enoch = parse_vkey(PETER_VKEY), parse_vkey(ENOCH_VKEY)
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    opened = open_note(note, [peter])
    assert [s.name for s in opened.verified] == ["PeterNeumann"]
    assert [s.name for s in opened.unverified] == ["EnochRoot"]
    assert len(open_note(note, [peter, enoch]).verified) == 2
    # same name, other id (and other key): an unknown key, ignored
    other = Verifier.ed25519("PeterNeumann", Signer.from_seed("x", bytes([7]) * 32).public_key)
    with pytest.raises(NoteVerificationError, match="no signature by a trusted key"):
        open_note(note, [other])
    # a known key whose signature is wrong refuses the whole note, even if another verifies
    bad = PETER_SIG.replace("kuBS9", "kuBT9")  # a signature byte, not the key id
    with pytest.raises(NoteVerificationError, match="PeterNeumann"):
        open_note(GO_TEXT + "\n" + bad + ENOCH_SIG, [peter, enoch])


@pytest.mark.parametrize(
    "text, why",
    [
        ("no blank line\n\u2014 a AAAAAAA=\n", "blank line"),
        ("t\n\n", "at least one signature"),
        ("t\n\n- a AAAAAAAA\n", "em dash"),
        ("t\n\n\u2014 a b AAAAAAAA\n", "base64"),
        ("t\n\n\u2014 a+b AAAAAAAA\n", "no spaces or"),
        ("t\x01\n\n\u2014 a AAAAAAAA\n", "control"),
        ("t\n\n\u2014 a AAAAAAAA", "end with a newline"),
    ],
)
def test_malformed_notes_are_refused_with_the_reason(text, why):
    with pytest.raises(ParseError, match=why):
        parse(text)


@pytest.mark.parametrize(
    "vkey",
    [
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # wrong id
        "example.com/foo+530d903a+AkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # short key
        "example.com/foo+530d903a",
        "example.com/foo",
        "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    ],
)
def test_bad_vkeys_are_refused(vkey):
    with pytest.raises(ParseError, match="verifier key"):
        parse_vkey(vkey)


def test_spec_checkpoint_parses():
    note = parse(SPEC_CHECKPOINT)
    cp = parse_checkpoint_text(note.text)
    assert cp.origin == "example.com/behind-the-sofa" and cp.size == 20852163
    assert base64.b64encode(cp.root_hash).decode() == "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    assert [s.name for s in note.signatures] == [
        "example.com/behind-the-sofa",
        "witness.example.com/w1",
    ]
    # the witness signature is key id || u64 timestamp || 64-byte signature
    cosig = note.signatures[1].signature
    assert len(cosig) == 72 and struct.unpack(">Q", cosig[:8])[0] == 1679315147


@pytest.mark.parametrize(
    "body, why",
    [
        ("o\n01\n" + base64.b64encode(bytes(32)).decode() + "\n", "leading zeroes"),
        ("o\n1\nAAAA\n", "32 bytes"),
        ("o\n1\n", "three lines"),
        ("\n1\n" + base64.b64encode(bytes(32)).decode() + "\n", "empty"),
    ],
)
def test_malformed_checkpoint_text(body, why):
    with pytest.raises(ParseError, match=why):
        parse_checkpoint_text(body)


# --- skyfence's notes read by the independent implementation, and the other way round ---------
def test_skyfence_checkpoint_is_read_by_the_spec_implementation():
    seed = hashlib.sha256(b"log").digest()
    log = Signer.from_seed("skyfence.example/policy-log", seed)
    root = node_hash(leaf_hash(b"a"), leaf_hash(b"b"))
    text = Checkpoint("skyfence.example/policy-log", 2, root).text()
    assert text == ("skyfence.example/policy-log\n2\n" + base64.b64encode(root).decode() + "\n")
    note = sign_checkpoint(text, log)
    assert spec_verify(note, "skyfence.example/policy-log", log.public_key)
    # and a note made by the spec implementation verifies here
    private = Ed25519PrivateKey.from_private_bytes(seed)
    theirs = text + "\n" + spec_sign_line("skyfence.example/policy-log", private, text)
    assert theirs == note
    assert verify_checkpoint(theirs, log.verifier()).root_hash == root


def test_witness_quorum_counts_distinct_trusted_witnesses():
    log = Signer.from_seed("example.com/log", bytes([1]) * 32)
    w1 = Cosigner.from_seed("witness.example/w1", bytes([2]) * 32)
    w2 = Cosigner.from_seed("witness.example/w2", bytes([3]) * 32)
    stranger = Cosigner.from_seed("witness.example/w3", bytes([4]) * 32)
    text = Checkpoint("example.com/log", 0, EMPTY_ROOT).text()
    c1 = w1.cosign(text, 1_700_000_000)
    assert spec_cosignature_ok(text, c1.line().strip(), w1.name, w1.public_key)
    note = sign_checkpoint(text, log, [c1, c1, stranger.cosign(text, 5)])
    trusted = [w1.verifier(), w2.verifier()]
    got = verify_checkpoint(note, log.verifier(), witnesses=trusted, quorum=1)
    assert got.witnesses == ("witness.example/w1",) and got.cosigned_at == (1_700_000_000,)
    with pytest.raises(QuorumError, match="1 trusted witness.*quorum of 2"):
        verify_checkpoint(note, log.verifier(), witnesses=trusted, quorum=2)
    both = sign_checkpoint(text, log, [c1, w2.cosign(text, 7)])
    assert verify_checkpoint(both, log.verifier(), witnesses=trusted, quorum=2).size == 0
    # a cosignature over another checkpoint (or a changed timestamp) refuses the note
    other = Checkpoint("example.com/log", 1, leaf_hash(b"x")).text()
    forged = sign_checkpoint(text, log, [w2.cosign(other, 7)])
    with pytest.raises(NoteVerificationError, match="witness.example/w2"):
        verify_checkpoint(forged, log.verifier(), witnesses=trusted, quorum=1)
    # the log's own signature is required
    with pytest.raises(NoteVerificationError, match="no signature by a trusted key"):
        verify_checkpoint(note, Signer.from_seed("example.com/log", bytes(32)).verifier())
    with pytest.raises(NoteVerificationError, match="not 'example.com/other'"):
        verify_checkpoint(note, log.verifier(), origin="example.com/other")


def test_consistency_vector_from_ct():
    # certificate-transparency's test data: the first 8 leaves and the 2 -> 5 proof
    leaves = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031"]]
    hashes = [leaf_hash(x) for x in leaves]
    root2 = node_hash(hashes[0], hashes[1])
    root5 = bytes.fromhex("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4")
    proof = [
        bytes.fromhex("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        bytes.fromhex("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    ]
    assert verify_consistency(2, 5, root2, root5, proof)
    assert not verify_consistency(2, 5, root2, root5, proof[::-1])
