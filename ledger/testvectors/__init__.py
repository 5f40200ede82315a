"""Deterministic test vectors for FORMAT.md, from fixed Ed25519 seeds.

`python -m ledger.testvectors` regenerates `vectors.json` and `sample-bundle.zip` here;
`--check` only compares. Ed25519 signatures are deterministic (RFC 8032), and every
input (keys, ids, payloads, times) is fixed, so the output never changes unless the
format does.

The log is five records: the key ring started by the root key, a key registered for
"alice", two events of a small aggregate signed by alice, and alice's key revoked.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import checkpoint as notes
from ledger import merkle
from ledger.bundle.export import write_bundle
from ledger.bundle.format import FORMAT_VERSION
from ledger.canonical import canonical_transcoder
from ledger.hashing import (
    GENESIS_HASH,
    RECORD_PREFIX,
    SIGNATURE_PREFIX,
    chain_hash,
    leaf_hash,
    record_hash,
    signed_message,
)
from ledger.keyring import KEYRING_ID, REGISTERED_TOPIC, REVOKED_TOPIC, STARTED_TOPIC
from ledger.keys import Signer
from ledger.rows import ChainRow

HERE = Path(__file__).parent
VECTORS = "vectors.json"
SAMPLE_BUNDLE = "sample-bundle.zip"
ORIGIN = "pmo-ledger/test-vectors"
ROOT_SEED = bytes(range(32))
ALICE_SEED = bytes(range(32, 64))
COUNTER_ID = UUID("6f1d3b52-8a0e-4c57-9d1e-2b7c4a9e0f31")
CHECKPOINT_TIME = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _at(minute: int) -> datetime:
    return datetime(2026, 1, 1, 9, minute, 0, 123456, tzinfo=UTC)


def signers() -> tuple[Signer, Signer]:
    return (Signer(Ed25519PrivateKey.from_private_bytes(ROOT_SEED), "ledger-root"),
            Signer(Ed25519PrivateKey.from_private_bytes(ALICE_SEED), "alice"))


def _events(root: Signer, alice: Signer) -> list[tuple[str, int, str, dict[str, Any], Signer]]:
    """(originator id, version, topic, payload, signer) of each record, in position order."""
    ring = str(KEYRING_ID)
    # Each event names its actor, whose key signs it: the root key's owner is "ledger-root".
    who = {"actor_id": "ledger-root", "actor_name": "Ledger root key", "meaning": "responsibility"}
    by_alice = {"actor_id": "alice", "actor_name": "Alice", "meaning": "authorship"}
    return [
        (ring, 1, STARTED_TOPIC, {
            "actor_id": "ledger-init", "actor_name": "Ledger initialisation", "meaning": "responsibility",
            "origin": ORIGIN, "originator_topic": "ledger.keyring:KeyRing", "reason": "ledger initialised",
            "root_key_id": root.key_id, "root_public_key": root.public_bytes.hex(), "timestamp": _at(0),
        }, root),
        (ring, 2, REGISTERED_TOPIC, {
            **who, "by_key_id": root.key_id, "key_id": alice.key_id, "may_register_keys": False,
            "owner": "alice", "public_key": alice.public_bytes.hex(),
            "reason": "signing key for alice", "timestamp": _at(1),
        }, root),
        (str(COUNTER_ID), 1, "vectors:Counter.Created", {
            **by_alice, "name": "Café ✓ budget", "originator_topic": "vectors:Counter", "timestamp": _at(2),
        }, alice),
        (str(COUNTER_ID), 2, "vectors:Counter.Incremented", {
            **by_alice, "amount": Decimal("1250.00"), "invoice_date": date(2026, 3, 1),
            "ref": UUID("0b6c2b0e-5f0e-4d0a-8f7c-3e1a2d4b5c6d"), "note": "line \"A\"\n",
            "count": 3, "timestamp": _at(3),
        }, alice),
        (ring, 3, REVOKED_TOPIC, {
            **who, "by_key_id": root.key_id, "key_id": alice.key_id,
            "reason": "alice left the project", "timestamp": _at(4),
        }, root),
    ]


def build() -> tuple[dict[str, Any], list[ChainRow], str]:
    """The vectors document, the chain rows, and the checkpoint note."""
    root, alice = signers()
    encode = canonical_transcoder().encode
    previous = GENESIS_HASH
    records, rows, leaves = [], [], []
    for position, (oid, version, topic, payload, signer) in enumerate(_events(root, alice), 1):
        state = encode(payload)
        h = record_hash(oid, version, topic, state)
        sig = signer.sign(h)
        link = chain_hash(previous, h, sig)
        leaf = leaf_hash(h, sig)
        records.append({
            "position": position,
            "originator_id": oid,
            "originator_version": version,
            "topic": topic,
            "state_utf8": state.decode("utf-8"),
            "state_base64": base64.b64encode(state).decode(),
            "identity_hex": f"{oid}\n{version}\n{topic}\n".encode().hex(),
            "record_hash": h.hex(),
            "signed_message": signed_message(h).hex(),
            "key_id": signer.key_id,
            "signature": sig.hex(),
            "previous_chain_hash": previous.hex(),
            "chain_hash": link.hex(),
            "leaf_hash": leaf.hex(),
        })
        rows.append(ChainRow(position, position, oid, version, signer.key_id, sig, link,
                             oid, version, topic, state))
        leaves.append(leaf)
        previous = link
    cp = notes.Checkpoint(ORIGIN, len(rows), merkle.root(leaves), previous, CHECKPOINT_TIME)
    note = notes.sign(cp, root)
    doc = {
        "description": "PMO Ledger test vectors: see ledger/FORMAT.md. Regenerate with "
                       "`python -m ledger.testvectors`. Byte strings are hex unless named *_base64/_utf8.",
        "format": FORMAT_VERSION,
        "prefixes": {
            "record": RECORD_PREFIX.hex(), "signature": SIGNATURE_PREFIX.hex(),
            "chain": "00", "merkle_leaf": "00", "merkle_node": "01",
        },
        "keys": [
            {"name": s.owner, "ed25519_seed": seed.hex(), "public_key": s.public_bytes.hex(),
             "key_id": s.key_id}
            for s, seed in ((root, ROOT_SEED), (alice, ALICE_SEED))
        ],
        "origin": ORIGIN,
        "canonical_json": [
            {"python": "Decimal('1250.00')", "canonical": encode(Decimal("1250.00")).decode()},
            {"python": "date(2026, 3, 1)", "canonical": encode(date(2026, 3, 1)).decode()},
            {"python": "datetime(2026, 1, 1, 9, 0, 0, 123456, tzinfo=UTC)", "canonical": encode(_at(0)).decode()},
            {"python": "UUID('0b6c2b0e-5f0e-4d0a-8f7c-3e1a2d4b5c6d')",
             "canonical": encode(UUID("0b6c2b0e-5f0e-4d0a-8f7c-3e1a2d4b5c6d")).decode()},
            {"python": "{'b': [1, True, None], 'a': 'é\\u2028\"'}", "canonical": encode({"b": [1, True, None], "a": "é\u2028\""}).decode()},
        ],
        "records": records,
        "merkle_roots": {str(n): merkle.root(leaves[:n]).hex() for n in range(len(leaves) + 1)},
        "checkpoint": {
            "size": cp.size,
            "body": cp.body(),
            "note_key_hash": notes.note_key_hash(ORIGIN, root.public_bytes).hex(),
            "note": note,
        },
    }
    return doc, rows, note


def vectors_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def bundle_bytes(rows: list[ChainRow], note: str) -> bytes:
    buf = io.BytesIO()
    write_bundle(buf, rows, size=len(rows), unchained=[], checkpoint_text=note)
    return buf.getvalue()


def bundle_members(data: bytes) -> dict[str, bytes]:
    """Member name -> content (the zip's compressed bytes may differ between zlib builds)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def generate(out_dir: Path = HERE) -> list[Path]:
    from ledger.testvectors import negative

    doc, rows, note = build()
    out = [out_dir / VECTORS, out_dir / SAMPLE_BUNDLE]
    out[0].write_bytes(vectors_bytes(doc))
    out[1].write_bytes(bundle_bytes(rows, note))
    return out + negative.generate(out_dir)


def differences(in_dir: Path = HERE) -> list[str]:
    """What differs between the shipped files and freshly generated ones (empty: none)."""
    doc, rows, note = build()
    problems = []
    vec, bundle = in_dir / VECTORS, in_dir / SAMPLE_BUNDLE
    if not vec.exists() or vec.read_bytes() != vectors_bytes(doc):
        problems.append(f"{vec} differs from the generated vectors")
    if not bundle.exists() or bundle_members(bundle.read_bytes()) != bundle_members(bundle_bytes(rows, note)):
        problems.append(f"{bundle} members differ from the generated sample bundle")
    from ledger.testvectors import negative

    problems += negative.differences(in_dir)
    if problems:
        problems.append("regenerate with `python -m ledger.testvectors` (the sample bundle embeds FORMAT.md)")
    return problems
