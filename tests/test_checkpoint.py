"""Checkpoints as C2SP signed notes: sign, parse, verify; wrong keys and malformed notes."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from ledger import checkpoint as notes
from ledger.errors import CheckpointFormatError
from ledger.keys import Signer

ROOT = Signer.generate("ledger-root")
CP = notes.Checkpoint(
    origin="pmo-ledger/0f2c8a40-9d4e-4c55-8b0e-0d3c1f6a9b11", size=1234,
    root=hashlib.sha256(b"root").digest(), chain_head=hashlib.sha256(b"head").digest(),
    time=datetime(2024, 5, 1, 12, 30, 45, tzinfo=UTC),
)


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def test_note_text_is_the_c2sp_format():
    text = notes.sign(CP, ROOT)
    body, sig_line = text.split("\n\n")
    assert body + "\n" == (
        f"{CP.origin}\n1234\n{b64(CP.root)}\nchain-head {b64(CP.chain_head)}\ntime 2024-05-01T12:30:45Z\n")
    assert sig_line.endswith("\n") and sig_line.count("\n") == 1
    dash, name, blob = sig_line.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", CP.origin)
    raw = base64.b64decode(blob)
    # key hash = SHA-256(name || "\n" || 0x01 || raw public key)[:4], then the Ed25519 signature
    assert raw[:4] == hashlib.sha256(CP.origin.encode() + b"\n\x01" + ROOT.public_bytes).digest()[:4]
    ROOT.private_key.public_key().verify(raw[4:], (body + "\n").encode())


def test_sign_parse_verify_round_trip():
    text = notes.sign(CP, ROOT)
    parsed, body, sigs = notes.parse(text)
    assert parsed == CP
    assert body == CP.body()
    assert [s.name for s in sigs] == [CP.origin]
    assert notes.verify(text, ROOT.public_bytes) == CP


def test_times_are_written_in_utc():
    from datetime import timedelta, timezone

    local = notes.Checkpoint(CP.origin, 1, CP.root, CP.chain_head,
                             datetime(2024, 5, 1, 14, 30, 45, tzinfo=timezone(timedelta(hours=2))))
    assert "time 2024-05-01T12:30:45Z\n" in local.body()
    assert notes.verify(notes.sign(local, ROOT), ROOT.public_bytes).time == CP.time


def test_verify_with_another_key_fails():
    text = notes.sign(CP, ROOT)
    with pytest.raises(CheckpointFormatError, match="not signed by this ledger's root key"):
        notes.verify(text, Signer.generate().public_bytes)


def test_signature_by_another_key_under_the_same_name_fails():
    text = notes.sign(CP, Signer.generate())
    with pytest.raises(CheckpointFormatError):
        notes.verify(text, ROOT.public_bytes)


def test_extra_signatures_by_other_keys_are_ignored():
    text = notes.sign(CP, ROOT)
    other = notes.sign(CP, Signer.generate()).split("\n\n")[1]
    cosigned = text + other  # a witness cosignature after ours
    assert notes.verify(cosigned, ROOT.public_bytes) == CP
    cosigned_first = text.split("\n\n")[0] + "\n\n" + other + text.split("\n\n")[1]
    assert notes.verify(cosigned_first, ROOT.public_bytes) == CP


@pytest.mark.parametrize("edit", [
    lambda t: t.replace("\n1234\n", "\n1235\n"),  # size changed
    lambda t: t.replace(b64(CP.root), b64(bytes(32))),  # root changed
    lambda t: t.replace("time 2024-05-01T12:30:45Z", "time 2024-05-01T12:30:46Z"),
    lambda t: t.replace("pmo-ledger/0f2c", "pmo-ledger/1f2c", 1),  # origin changed in the body only
])
def test_a_changed_body_fails_its_signature(edit):
    text = notes.sign(CP, ROOT)
    changed = edit(text)
    assert changed != text
    with pytest.raises(CheckpointFormatError):
        notes.verify(changed, ROOT.public_bytes)


def test_a_changed_signature_fails():
    text = notes.sign(CP, ROOT)
    body, sig_line = text.split("\n\n")
    dash, name, blob = sig_line.strip().split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    with pytest.raises(CheckpointFormatError, match="does not verify"):
        notes.verify(f"{body}\n\n{dash} {name} {b64(bytes(raw))}\n", ROOT.public_bytes)


def _good() -> str:
    return notes.sign(CP, ROOT)


MALFORMED = [
    ("", "no blank line"),
    ("just one line\n", "no blank line"),
    (_good().replace("\n\n", "\n"), "no blank line"),
    (_good().split("\n\n")[0] + "\n\n", "no signature"),
    ("origin\n12\n\n\u2014 origin AAAA\n", "needs origin, size and root"),
    (_good().replace("\n1234\n", "\n-1\n"), "not a decimal"),
    (_good().replace("\n1234\n", "\n01234\n"), "not a decimal"),
    (_good().replace("\n1234\n", "\nlots\n"), "not a decimal"),
    (_good().replace("\n1234\n", "\n12\u00b2\n"), "not a decimal"),  # str.isdigit() accepts superscripts
    (_good().replace(b64(CP.root), "not base64!"), "root hash is not base64"),
    (_good().replace(b64(CP.root), b64(bytes(31))), "root hash is 31 bytes"),
    (_good().replace("chain-head ", "chain-tail "), "chain-head"),
    (_good().replace("time 2024-05-01T12:30:45Z", "time yesterday"), "extension lines"),
    (_good().replace("\u2014 ", "- "), "malformed signature line"),
    (_good().rstrip("\n") + " extra\n", "malformed signature line"),
    (_good().split("\n\n")[0] + "\n\n\u2014 x " + b64(bytes(60)) + "\n", "60 bytes, expected 68"),
    (_good().split("\n\n")[0] + "\n\n\u2014 x %%%%\n", "signature is not base64"),
]


# Ids by case, not by text: the texts carry a signature by this process's random key, and
# every pytest-xdist worker must collect the same ids.
@pytest.mark.parametrize("text,message", MALFORMED, ids=[f"{i}-{m}" for i, (_, m) in enumerate(MALFORMED)])
def test_malformed_notes_are_refused(text, message):
    with pytest.raises(CheckpointFormatError, match=message):
        notes.verify(text, ROOT.public_bytes)
