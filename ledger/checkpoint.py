"""Checkpoints as C2SP signed notes (tlog-checkpoint body, Ed25519 note signature).

Body (each line ends in a newline):
    <origin>
    <tree size, decimal>
    <base64 RFC 9162 Merkle root of the first <size> leaves>
    chain-head <base64 chain hash at position <size>>      (extension line)
    time <UTC instant, ISO 8601 with Z>                      (extension line)
then an empty line and one signature line per signer:
    — <key name> <base64(4-byte key hash || 64-byte Ed25519 signature over the body)>
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature

from ledger.errors import CheckpointFormatError
from ledger.keys import Signer, load_public

ED25519_ALG = b"\x01"
DASH = "\u2014"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    chain_head: bytes
    time: datetime

    def body(self) -> str:
        return (
            f"{self.origin}\n{self.size}\n{_b64(self.root)}\n"
            f"chain-head {_b64(self.chain_head)}\n"
            f"time {self.time.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
        )


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_hash: bytes
    signature: bytes


def note_key_hash(name: str, public: bytes) -> bytes:
    """C2SP signed-note key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_ALG + public).digest()[:4]


def sign(cp: Checkpoint, signer: Signer) -> str:
    """The signed note text for a checkpoint, signed under the name `cp.origin`."""
    body = cp.body()
    sig = signer.private_key.sign(body.encode())
    key_hash = note_key_hash(cp.origin, signer.public_bytes)
    return f"{body}\n{DASH} {cp.origin} {_b64(key_hash + sig)}\n"


def parse(text: str) -> tuple[Checkpoint, str, list[NoteSignature]]:
    """Split a note into its checkpoint, exact body text and signature lines."""
    body, sep, sigs = text.partition("\n\n")
    if not sep or not body:
        raise CheckpointFormatError("not a signed note: no blank line between body and signatures")
    body += "\n"
    lines = body.splitlines()
    if len(lines) < 3:
        raise CheckpointFormatError("checkpoint body needs origin, size and root hash lines")
    origin, size_text, root_text, *ext = lines
    if not (size_text.isascii() and size_text.isdigit()) or (size_text.startswith("0") and size_text != "0"):
        raise CheckpointFormatError(f"checkpoint size {size_text!r} is not a decimal number")
    extensions = dict(line.split(" ", 1) for line in ext if " " in line)
    try:
        root = _unb64(root_text, 32, "root hash")
        head = _unb64(extensions.get("chain-head", ""), 32, "chain-head")
        when = datetime.strptime(extensions.get("time", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as e:
        raise CheckpointFormatError(f"checkpoint extension lines: {e}") from None
    signatures = []
    for line in sigs.splitlines():
        if not line.strip():
            continue
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise CheckpointFormatError(f"malformed signature line {line!r}")
        try:
            raw = _unb64(parts[2], None, "signature")
        except ValueError as e:
            raise CheckpointFormatError(f"signature line of {parts[1]}: {e}") from None
        if len(raw) != 68:
            raise CheckpointFormatError(f"signature of {parts[1]} is {len(raw)} bytes, expected 68")
        signatures.append(NoteSignature(parts[1], raw[:4], raw[4:]))
    if not signatures:
        raise CheckpointFormatError("signed note carries no signature")
    return Checkpoint(origin, int(size_text), root, head, when), body, signatures


def verify(text: str, public: bytes) -> Checkpoint:
    """Parse a note and check it bears a valid signature by `public` under its origin."""
    cp, body, signatures = parse(text)
    want = note_key_hash(cp.origin, public)
    key = load_public(public)
    for s in signatures:
        if s.name == cp.origin and s.key_hash == want:
            try:
                key.verify(s.signature, body.encode())
            except InvalidSignature:
                raise CheckpointFormatError(
                    f"checkpoint of size {cp.size}: signature by {s.name} does not verify"
                ) from None
            return cp
    raise CheckpointFormatError(
        f"checkpoint of size {cp.size} is not signed by this ledger's root key ({want.hex()})"
    )


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _unb64(text: str, length: int | None, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError(f"{what} is not base64") from None
    if length is not None and len(raw) != length:
        raise ValueError(f"{what} is {len(raw)} bytes, expected {length}")
    return raw
