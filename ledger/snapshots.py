"""Snapshot seals: no snapshot is used on trust (see FORMAT.md, "Snapshot seals").

A snapshot is derived data: the state of one aggregate at one version, stored by the
`eventsourcing` library so that loading need not fold every event. Anyone who can write
the database could change one, so each is sealed when it is written, in the same
transaction (ledger/recorders/sealed.py), by the ledger's root key:

    state_sha256 = SHA-256(topic || 0x0A || state)          the stored snapshot row's bytes
    message      = "pmo-ledger snapshot seal v1" || 0x00
                   || "<originator id>\\n<version>\\n<position>\\n"   (UTF-8, decimal)
                   || chain hash (32 bytes) || state_sha256 (32 bytes)
    signature    = Ed25519(root key, message)

where position and chain hash are those of the logged event at the same originator id and
version. Loading checks the seal against the root public key of position 1 and the chain
row at that (originator id, version) as it is now, and drops what does not hold (the
library then folds the events); `check_snapshots` goes further and re-derives every stored
snapshot from the events.

The functions here are small and pure, in the manner of sigstore's Merkle module: each
raises `SealError` saying what was expected and what was found.

    seal = make_seal(root, originator_id=..., version=..., position=..., chain_hash=...,
                     topic=..., state=...)
    check_seal(seal, originator_id=..., version=..., topic=..., state=...,
               chained=(position, chain_hash) or None, root_public_key=...)
    faults = check_snapshots(app, progress=None)   # list of ledger.verify.Fault
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from eventsourcing.utils import get_topic

from ledger.errors import LedgerError
from ledger.keyring import STARTED_TOPIC
from ledger.keys import Signer, key_id, load_public

SEALS_TABLE = "ledger_snapshot_seals"
SEAL_PREFIX = b"pmo-ledger snapshot seal v1\x00"
MISMATCH = "snapshot-mismatch"  # the fault kind, in `app.integrity_faults` and from check_snapshots
NO_SEAL = "no seal"


class SealError(LedgerError):
    """A snapshot's seal does not hold (the message says what was expected and found)."""

    code = MISMATCH


@dataclass(frozen=True)
class Seal:
    """One row of the seals table: what a snapshot was bound to, and the root key's signature."""

    originator_id: str  # the canonical UUID text
    originator_version: int
    position: int  # of the logged event at (originator_id, originator_version)
    chain_hash: bytes  # of that position
    state_sha256: bytes  # state_digest(topic, state) of the stored snapshot
    key_id: str  # the sealing key's fingerprint: the ledger's root key
    signature: bytes  # Ed25519 over seal_message(...)


def state_digest(topic: str, state: bytes) -> bytes:
    """SHA-256 of a stored snapshot's topic and state bytes, as stored."""
    digest = hashlib.sha256(topic.encode() + b"\n")
    digest.update(state)  # not copied: a project's snapshot is hundreds of KB
    return digest.digest()


def seal_message(originator_id: str, version: int, position: int, chain_hash: bytes,
                 state_sha256: bytes) -> bytes:
    """The exact bytes the root key signs for one snapshot."""
    _check_length("chain hash", chain_hash)
    _check_length("state digest", state_sha256)
    fields = f"{originator_id}\n{int(version)}\n{int(position)}\n".encode()
    return SEAL_PREFIX + fields + bytes(chain_hash) + bytes(state_sha256)


def make_seal(signer: Signer, *, originator_id: str, version: int, position: int,
              chain_hash: bytes, topic: str, state: bytes) -> Seal:
    """The seal of a stored snapshot bound to the chain row (position, chain hash)."""
    digest = state_digest(topic, state)
    message = seal_message(originator_id, version, position, chain_hash, digest)
    return Seal(originator_id, int(version), int(position), bytes(chain_hash), digest,
                signer.key_id, signer.private_key.sign(message))


def check_seal(seal: Seal | None, *, originator_id: str, version: int, topic: str, state: bytes,
               chained: tuple[int, bytes] | None, root_public_key: bytes) -> None:
    """Raise SealError unless `seal` is the root key's seal of this very snapshot (its
    originator id, version, topic and state) bound to `chained`, the (position, chain
    hash) of the logged event at that originator id and version as the chain holds it now
    (None: there is none)."""
    where = f"snapshot of {originator_id} at version {version}"
    if seal is None:
        raise SealError(NO_SEAL)
    if (seal.originator_id, seal.originator_version) != (originator_id, version):
        raise SealError(f"{where}: the seal is for {seal.originator_id} at version {seal.originator_version}")
    if chained is None:
        raise SealError(f"no logged event at {originator_id} version {version}: "
                        f"the seal binds position {seal.position}")
    position, chain_hash = chained
    if seal.position != position:
        raise SealError(f"the seal binds position {seal.position}; the event at version {version} "
                        f"is at position {position}")
    if bytes(seal.chain_hash) != bytes(chain_hash):
        raise SealError(f"the seal binds chain hash {bytes(seal.chain_hash).hex()} at position {position}; "
                        f"the chain holds {bytes(chain_hash).hex()}")
    found = state_digest(topic, state)
    if found != bytes(seal.state_sha256):
        raise SealError(f"stored state digest {found.hex()} differs from the sealed "
                        f"{bytes(seal.state_sha256).hex()}")
    root_id = key_id(root_public_key)
    if seal.key_id != root_id:
        raise SealError(f"sealed by key {seal.key_id}, not by the ledger's root key {root_id}")
    message = seal_message(originator_id, version, position, chain_hash, found)
    try:
        _public(bytes(root_public_key)).verify(bytes(seal.signature), message)
    except (InvalidSignature, ValueError, TypeError):
        raise SealError(f"the seal signature does not verify against the ledger's root key {root_id}") from None


def root_public_key_of(topic: str | None, state: bytes | None) -> bytes:
    """The root public key of the key ring's start (position 1): its payload's
    `root_public_key`, which must be a 32-byte key whose fingerprint is its `root_key_id`."""
    if topic != STARTED_TOPIC or state is None:
        raise SealError(f"position 1 is not the key ring's start (expected topic {STARTED_TOPIC}, "
                        f"found {topic!r}): no root key to check seals against")
    try:
        data = json.loads(bytes(state))
        public = bytes.fromhex(data["root_public_key"])
        load_public(public)
    except (ValueError, TypeError, KeyError) as e:
        raise SealError(f"position 1 names no usable root public key: {e!r}") from None
    if key_id(public) != data.get("root_key_id"):
        raise SealError(f"position 1's root key id {data.get('root_key_id')!r} is not the fingerprint "
                        f"{key_id(public)} of its root public key")
    return public


def _check_length(what: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray | memoryview) or len(value) != 32:
        found = len(value) if isinstance(value, bytes | bytearray | memoryview) else type(value).__name__
        raise SealError(f"a {what} is 32 bytes; found {found}")


@lru_cache(maxsize=8)
def _public(raw: bytes) -> Ed25519PublicKey:
    return load_public(raw)


# Verification: every stored snapshot re-derived from the events ---------------------------


def mismatch(originator_id: str | None, version: int | None, position: int | None, detail: str) -> Any:
    """A `snapshot-mismatch` fault (a ledger.verify.Fault)."""
    from ledger.verify import Fault  # here: ledger.verify may import this module

    return Fault(position=position, originator_id=originator_id, version=version, kind=MISMATCH,
                 detail=detail)


def check_snapshots(app: Any, progress: Callable[[int, int], None] | None = None) -> list[Any]:
    """Every stored snapshot of `app` (a LedgerApplication), checked: its seal (as loading
    checks it) AND its state against the aggregate replayed from the log's events, with no
    snapshot, to the same version. One `snapshot-mismatch` Fault per snapshot that fails
    either (its detail says what), at the position of the event at its originator id and
    version (None where the chain holds no such event). `progress(done, total)` is called
    per snapshot checked.

    Each aggregate with snapshots is replayed once, in version order, comparing as it
    passes each snapshot's version: the cost is one decode and fold of every event of the
    snapshotted aggregates (most of the log in a PMO ledger), one signature check per
    snapshot, and the events' and snapshots' reads. States are compared as the app's
    transcoder encodes them (canonical JSON: dict order does not matter), after the stored
    snapshot is restored as loading restores it (upcasts included); when it was taken
    (its timestamp) is not compared.
    """
    if app.snapshots is None:
        return []
    recorder = app.snapshots.recorder
    index = recorder.snapshot_index()
    faults: list[Any] = []
    try:
        root: bytes | None = recorder.root_public_key()
        no_root = ""
    except SealError as e:
        root, no_root = None, str(e)
    done = 0
    for oid, group in groupby(index, key=lambda row: row[0]):
        versions = [v for _, v in group]
        faults += _check_originator(app, recorder, oid, versions, root, no_root)
        done += len(versions)
        if progress:
            progress(done, len(index))
    return faults


def _check_originator(app: Any, recorder: Any, oid: str, versions: list[int], root: bytes | None,
                      no_root: str) -> list[Any]:
    faults = []
    try:
        bound = recorder.seals_for(oid, versions)
    except Exception as e:  # noqa: BLE001 - a row that does not read is a finding, not a crash
        return [mismatch(oid, v, None, f"the seals do not read: {e!r}") for v in versions]
    replay = _Replay(app, oid, max(versions))
    for version in versions:
        seal, chained = bound.get(version, (None, None))
        position = chained[0] if chained else None
        try:  # one at a time: a project's snapshot can be a megabyte
            (s,) = recorder.select_unchecked(oid, version)
        except Exception as e:  # noqa: BLE001
            faults.append(mismatch(oid, version, position, f"the snapshot does not read: {e!r}"))
            continue
        problems = []
        try:
            if root is None:
                raise SealError(no_root)
            check_seal(seal, originator_id=oid, version=version, topic=s.topic, state=s.state,
                       chained=chained, root_public_key=root)
        except SealError as e:
            problems.append(str(e))
        problem = replay.compare(s, sealed=not problems)
        if problem:
            problems.append(problem)
        if problems:
            faults.append(mismatch(oid, version, position, "; ".join(problems)))
    return faults


class _Replay:
    """One aggregate folded from its events (no snapshot), forward only, once."""

    def __init__(self, app: Any, oid: str, last: int) -> None:
        self.app = app
        self.aggregate: Any = None
        self.broken = ""
        self.events: Iterator[Any] = iter(())
        try:
            self.events = iter(app.events.get(UUID(oid), lte=last))
        except Exception as e:  # noqa: BLE001 - an originator id or event that does not read
            self.broken = f"its events do not read: {e!r}"

    def upto(self, version: int) -> Any:
        while not self.broken and (self.aggregate is None or self.aggregate.version < version):
            try:
                event = next(self.events, None)
                if event is None:
                    break
                self.aggregate = event.mutate(self.aggregate)
            except Exception as e:  # noqa: BLE001 - a fold that fails is a finding
                self.broken = f"its events do not replay: {e!r}"
        return self.aggregate

    def compare(self, stored: Any, *, sealed: bool) -> str:
        """'' when the stored snapshot holds the replayed state at its version: the same
        bytes as the replay's encoding, or -- only for a snapshot whose seal holds, since
        restoring resolves the topic it names -- the same state once restored as loading
        restores it (a snapshot of an earlier class version is upcast)."""
        version = stored.originator_version
        aggregate = self.upto(version)
        if self.broken:
            return f"cannot replay to version {version}: {self.broken}"
        if aggregate is None or aggregate.version != version:
            found = "no event" if aggregate is None else f"version {aggregate.version}"
            return f"the events replay to {found}, not to version {version}"
        try:
            take = getattr(type(aggregate), "Snapshot", None) or self.app.snapshot_class
            encode = self.app.mapper.transcoder.encode
            replayed = take.take(aggregate)
            expected = encode(replayed.state)
            if stored.topic == get_topic(take) and _same_state(stored.state, replayed.topic, expected):
                return ""
            if not sealed:
                return f"its state is not the encoding of the events' replay to version {version}"
            restored = self.app.mapper.to_domain_event(stored).mutate(None)
            same = type(restored) is type(aggregate) and encode(take.take(restored).state) == expected
        except Exception as e:  # noqa: BLE001 - a snapshot that does not restore
            return f"the snapshot does not restore: {e!r}"
        if not same:
            return f"the state differs from the events' replay to version {version}"
        return ""



def _same_state(stored: bytes, topic: str, state: bytes) -> bool:
    """True when a stored snapshot's payload is exactly {"state": <state>, "timestamp":
    any, "topic": <topic>}, `state` being the transcoder's (canonical) bytes of the
    replayed state: so comparing costs one encoding per snapshot, not two and a decode.
    The state's bytes are a complete JSON value, so the parser of the whole payload takes
    exactly them for "state"; what lies between them and the topic must parse as the
    timestamp alone. Anything else (another transcoder's bytes, an older class version)
    answers False, and the caller compares the restored snapshot instead."""
    stored = bytes(stored)
    head = b'{"state":' + state + b',"timestamp":'
    tail = b',"topic":' + json.dumps(topic, ensure_ascii=False).encode() + b"}"
    if not (stored.startswith(head) and stored.endswith(tail)) or len(stored) < len(head) + len(tail):
        return False
    try:
        middle = json.loads(b'{"timestamp":' + stored[len(head):len(stored) - len(tail)] + b"}")
    except (ValueError, TypeError, RecursionError):
        return False
    return isinstance(middle, dict) and set(middle) == {"timestamp"}
