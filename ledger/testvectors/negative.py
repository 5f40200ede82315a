"""Negative test vectors: one evidence bundle per fault kind, and the faults a verifier
must report for it (FORMAT.md, "Negative vectors").

Each case starts from the five records of the positive vectors and changes one thing, as
an insider would; where the insider holds the keys the case needs (the root key, alice's
key), everything else is re-signed and re-linked and the checkpoint signed again, so that
only the fault the case is named for remains. The expected fault lists are written here by
hand from FORMAT.md's rules, not taken from a verifier's output.

`python -m ledger.testvectors` writes them to `negative/` beside `vectors.json`.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import checkpoint as notes
from ledger import merkle
from ledger.bundle.export import write_bundle
from ledger.bundle.format import MANIFEST
from ledger.canonical import canonical_transcoder
from ledger.hashing import GENESIS_HASH, chain_hash, leaf_hash, record_hash
from ledger.keyring import REGISTERED_TOPIC
from ledger.keys import Signer
from ledger.rows import ChainRow, UnchainedRow

NEGATIVE_DIR = "negative"
EXPECTED = "expected.json"
STRANGER_SEED = bytes(range(64, 96))


@dataclass
class Entry:
    """One position as the case writes it."""

    oid: str
    version: int
    topic: str | None
    state: bytes | None
    signer: Signer
    event_version: int | None = None  # the stored event's own version, where it differs
    bad_signature: bool = False  # sign another record's hash instead of this one's
    chain_hash: bytes | None = None  # a stored chain hash other than the true link


@dataclass
class Case:
    description: str
    faults: list[tuple[int | None, str]]  # (position, kind), in the order a report lists them
    change: Callable[[list[Entry]], list[Entry]] = lambda e: e
    unchained: list[UnchainedRow] = field(default_factory=list)
    checkpoint: Callable[[list[ChainRow], Signer, Signer], str] | None = None
    edit: Callable[[dict[str, bytes]], None] | None = None  # members changed after writing
    root_key: str | None = None  # pinned root key fingerprint (--root-key)
    exit: int = 1


def _entries() -> list[Entry]:
    from ledger.testvectors import _events, signers

    root, alice = signers()
    encode = canonical_transcoder().encode
    return [Entry(oid, version, topic, encode(payload), signer)
            for oid, version, topic, payload, signer in _events(root, alice)]


def _rows(entries: list[Entry]) -> list[ChainRow]:
    previous, rows = GENESIS_HASH, []
    for position, e in enumerate(entries, 1):
        event_version = e.event_version or e.version
        state = e.state if e.state is not None else b"{}"
        h = record_hash(e.oid, event_version, e.topic or "", state)
        sig = e.signer.sign(record_hash(e.oid, event_version, "another record", state) if e.bad_signature else h)
        link = e.chain_hash or chain_hash(previous, h, sig)
        rows.append(ChainRow(position, position, e.oid, e.version, e.signer.key_id, sig, link,
                             e.oid, event_version, e.topic if e.state is not None else None, e.state))
        previous = link
    return rows


def _leaves(rows: list[ChainRow]) -> list[bytes]:
    return [GENESIS_HASH if r.state is None else leaf_hash(
        record_hash(r.event_originator_id, r.event_originator_version, r.topic, r.state), r.signature)
        for r in rows]


def _note(rows: list[ChainRow], signer: Signer, size: int | None = None, root: bytes | None = None) -> str:
    from ledger.testvectors import CHECKPOINT_TIME, ORIGIN

    size = len(rows) if size is None else size
    leaves = _leaves(rows)[:size]
    cp = notes.Checkpoint(ORIGIN, size, root or merkle.root(leaves), rows[size - 1].chain_hash, CHECKPOINT_TIME)
    return notes.sign(cp, signer)


def _at(position: int, **changes: Any) -> Callable[[list[Entry]], list[Entry]]:
    def change(entries: list[Entry]) -> list[Entry]:
        entries[position - 1] = dataclasses.replace(entries[position - 1], **changes)
        return entries
    return change


def _state(position: int, edit: Callable[[bytes], bytes]) -> Callable[[list[Entry]], list[Entry]]:
    def change(entries: list[Entry]) -> list[Entry]:
        e = entries[position - 1]
        entries[position - 1] = dataclasses.replace(e, state=edit(e.state or b""))
        return entries
    return change


def _signers() -> tuple[Signer, Signer, Signer]:
    from ledger.testvectors import signers

    root, alice = signers()
    return root, alice, Signer(Ed25519PrivateKey.from_private_bytes(STRANGER_SEED), "stranger")


def _after_revocation(entries: list[Entry]) -> list[Entry]:
    from ledger.testvectors import COUNTER_ID

    _, alice, _ = _signers()
    state = canonical_transcoder().encode({
        "actor_id": "alice", "actor_name": "Alice", "meaning": "authorship",
        "amount": "5.00", "note": "after she left", "timestamp": "2026-01-01T09:05:00.123456Z"})
    return [*entries, Entry(str(COUNTER_ID), 3, "vectors:Counter.Incremented", state, alice)]


def _alice_registers_mallory(entries: list[Entry]) -> list[Entry]:
    from ledger.keyring import KEYRING_ID

    _, alice, stranger = _signers()
    state = canonical_transcoder().encode({
        "actor_id": "alice", "actor_name": "Alice", "meaning": "responsibility",
        "by_key_id": alice.key_id, "key_id": stranger.key_id, "may_register_keys": True,
        "owner": "mallory", "public_key": stranger.public_bytes.hex(), "reason": "a key of my own",
        "timestamp": "2026-01-01T09:04:00.123456Z"})
    entries[4] = Entry(str(KEYRING_ID), 3, REGISTERED_TOPIC, state, alice)
    return entries


def _rename_owner(members: dict[str, bytes]) -> None:
    members["keys.json"] = members["keys.json"].replace(b'"owner": "alice"', b'"owner": "mallory"')


def _bad_base64_signature(members: dict[str, bytes]) -> None:
    lines = members["records.jsonl"].split(b"\n")
    record = json.loads(lines[2])
    record["signature"] = "not base64!"
    lines[2] = json.dumps(record, separators=(",", ":")).encode()
    members["records.jsonl"] = b"\n".join(lines)


def _repeat_key_id(state: bytes) -> bytes:
    return state.replace(b'"key_id":"', b'"key_id":"' + b"0" * 64 + b'","key_id":"', 1)


def _upper_hex(state: bytes) -> bytes:
    public = json.loads(state)["public_key"]
    return state.replace(public.encode(), public.upper().encode())


def _not_hex(state: bytes) -> bytes:
    public = json.loads(state)["public_key"]
    return state.replace(public.encode(), b"zz" + public[2:].encode())


UNKNOWN_ALICE = [(3, "unknown-key"), (4, "unknown-key")]


def cases() -> dict[str, Case]:
    root, alice, stranger = _signers()
    from ledger.testvectors import COUNTER_ID

    return {
        "bad-signature": Case(
            "position 4's signature is alice's, over another record's hash; the chain was "
            "re-linked over it", [(4, "bad-signature")], _at(4, bad_signature=True)),
        "chain-break": Case(
            "the chain hash stored at position 3 is not the link of position 2's and 3's; "
            "position 4 links to the stored value", [(3, "chain-break")],
            _at(3, chain_hash=bytes([0xAB]) * 32)),
        "unknown-key": Case(
            "position 3 is signed by a key the log never registered", [(3, "unknown-key")],
            _at(3, signer=stranger)),
        "revoked-key": Case(
            "a sixth record, by alice, after her key was revoked at position 5",
            [(6, "revoked-key")], _after_revocation),
        "missing-record": Case(
            "the stored event at position 4 is gone (topic and state null); its chain row "
            "remains", [(4, "missing-record")], _at(4, state=None, topic=None)),
        "version-gap": Case(
            "position 4 is version 3 of the counter, whose last version was 1",
            [(4, "version-gap")], _at(4, version=3, event_version=3)),
        "identity-mismatch": Case(
            "the chain row at position 4 names version 2; the stored event there is version 7 "
            "(signed as such)", [(4, "identity-mismatch")], _at(4, event_version=7)),
        "actor-key-mismatch": Case(
            "position 3 names alice as its actor but is signed by the root key",
            [(3, "actor-key-mismatch")], _at(3, signer=root)),
        "non-canonical": Case(
            "position 4's payload has a space after its first comma: the same JSON value, "
            "not its RFC 8785 bytes (re-signed by alice)", [(4, "non-canonical")],
            _state(4, lambda s: s.replace(b",", b", ", 1))),
        "non-canonical-repeated-key": Case(
            "alice's key registration names key_id twice (re-signed by the root key): not "
            "trusted, so alice's acts are by an unregistered key",
            [(2, "non-canonical"), *UNKNOWN_ALICE], _state(2, _repeat_key_id)),
        "non-canonical-hex": Case(
            "alice's key registration writes her public key in upper-case hex (re-signed by "
            "the root key): not trusted", [(2, "non-canonical"), *UNKNOWN_ALICE],
            _state(2, _upper_hex)),
        "bad-payload": Case(
            "alice's key registration has a public key that is not hex (re-signed by the "
            "root key)", [(2, "bad-payload"), *UNKNOWN_ALICE], _state(2, _not_hex)),
        "unauthorised-key-event": Case(
            "position 5 is alice, whose key may not register keys, registering one for "
            "mallory", [(5, "unauthorised-key-event")], _alice_registers_mallory),
        "root-key-mismatch": Case(
            "a clean bundle checked against a pinned root key that is alice's: nothing in "
            "it can be trusted",
            [(1, "root-key-mismatch"), (1, "unknown-key"), (1, "unknown-key"),
             (2, "unauthorised-key-event"), (2, "unknown-key"), (3, "unknown-key"),
             (4, "unknown-key"), (5, "unauthorised-key-event"), (5, "unknown-key"),
             (None, "bad-checkpoint")], root_key=alice.key_id),
        "checkpoint-mismatch": Case(
            "the checkpoint (size 5) is signed over another Merkle root",
            [(5, "checkpoint-mismatch")],
            checkpoint=lambda rows, root, _: _note(rows, root, root=merkle.root(_leaves(rows)[:4]))),
        "truncated": Case(
            "the bundle stops at position 4; its checkpoint holds 5 records",
            [(5, "truncated")], lambda e: e[:4],
            checkpoint=lambda rows, root, _: _note(_rows(_entries()), root)),
        "unchained-record": Case(
            "a stored event that no chain position accounts for", [(None, "unchained-record")],
            unchained=[UnchainedRow(9, str(COUNTER_ID), 3, "vectors:Counter.Incremented")]),
        "bad-checkpoint": Case(
            "the checkpoint is signed by alice, not the root key", [(None, "bad-checkpoint")],
            checkpoint=lambda rows, _, alice: _note(rows, alice)),
        "bundle-mismatch": Case(
            "keys.json renames alice's key's owner (and so no longer matches the manifest)",
            [(2, "bundle-mismatch"), (None, "bundle-mismatch")], edit=_rename_owner),
        "malformed-row": Case(
            "a records.jsonl line whose signature is not base64: not a bundle a verifier can "
            "read (exit 2, nothing verified)", [], edit=_bad_base64_signature, exit=2),
    }


def build_case(case: Case) -> bytes:
    root, alice, _ = _signers()
    rows = _rows(case.change(_entries()))
    note = case.checkpoint(rows, root, alice) if case.checkpoint else _note(rows, root)
    buf = io.BytesIO()
    write_bundle(buf, rows, size=len(rows), unchained=case.unchained, checkpoint_text=note)
    data = buf.getvalue()
    return data if case.edit is None else _rezip(data, case.edit)


def _rezip(data: bytes, edit: Callable[[dict[str, bytes]], None]) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        members = {i.filename: zf.read(i) for i in infos}
    before = dict(members)
    edit(members)
    if members["records.jsonl"] != before["records.jsonl"]:
        # A malformed line is the case, not the manifest's hash of it.
        manifest = json.loads(members[MANIFEST])
        manifest["members"]["records.jsonl"]["bytes"] = len(members["records.jsonl"])
        import hashlib

        manifest["members"]["records.jsonl"]["sha256"] = hashlib.sha256(members["records.jsonl"]).hexdigest()
        members[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for info in infos:
            zf.writestr(info, members[info.filename])
    return out.getvalue()


def expected_document() -> dict[str, Any]:
    return {
        "description": "PMO Ledger negative test vectors: each <name>.zip, verified (with "
                       "--root-key root_key where given), must give exactly these faults "
                       "(position, kind), in this order, and this exit status. See ledger/FORMAT.md.",
        "cases": {
            name: {"description": c.description, "faults": [list(f) for f in c.faults],
                   "root_key": c.root_key, "exit": c.exit}
            for name, c in cases().items()
        },
    }


def expected_bytes() -> bytes:
    return json.dumps(expected_document(), indent=2, ensure_ascii=False).encode() + b"\n"


def generate(out_dir: Path) -> list[Path]:
    folder = out_dir / NEGATIVE_DIR
    folder.mkdir(exist_ok=True)
    written = [folder / EXPECTED]
    written[0].write_bytes(expected_bytes())
    for name, case in cases().items():
        path = folder / f"{name}.zip"
        path.write_bytes(build_case(case))
        written.append(path)
    return written


def differences(in_dir: Path) -> list[str]:
    from ledger.testvectors import bundle_members

    folder, problems = in_dir / NEGATIVE_DIR, []
    if not (folder / EXPECTED).exists() or (folder / EXPECTED).read_bytes() != expected_bytes():
        problems.append(f"{folder / EXPECTED} differs from the generated one")
    for name, case in cases().items():
        path = folder / f"{name}.zip"
        if not path.exists() or bundle_members(path.read_bytes()) != bundle_members(build_case(case)):
            problems.append(f"{path} members differ from the generated bundle")
    return problems
