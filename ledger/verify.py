"""Verification of the whole log: every signature against the key valid at its position,
every chain link, identities, gaps, unchained rows and checkpoints. It never stops at the
first fault: each is reported with position, originator, version, kind and detail.

The per-position checks are pure functions over ChainRow tuples, so the same code checks a
database and an evidence bundle; ranges of positions are checked in parallel processes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ledger import checkpoint as notes
from ledger import merkle
from ledger.errors import CheckpointFormatError
from ledger.hashing import GENESIS_HASH, chain_hash, leaf_hash, record_hash
from ledger.keyring import KEY_TOPICS, REGISTERED_TOPIC, REVOKED_TOPIC, STARTED_TOPIC
from ledger.keys import key_id as fingerprint
from ledger.keys import load_public, verify_signature
from ledger.payload import NotCanonical, actor_of, lower_hex_64, parse_canonical
from ledger.rows import ChainRow, UnchainedRow

# Ranges smaller than this are checked in-process: a pool costs more than it saves.
PARALLEL_THRESHOLD = 4000


# Every kind of fault a verifier reports, and what it means (FORMAT.md, "Faults").
FAULT_KINDS = {
    "bad-signature": "the signature does not verify over the record hash with the key named",
    "chain-break": "the stored chain hash is not the link from the previous position",
    "unknown-key": "signed by a key the log had not registered before this position",
    "revoked-key": "signed by a key after its revocation",
    "actor-key-mismatch": "signed by a valid key that is not a key of the actor the event names",
    "non-canonical": "the stored bytes are not the canonical form FORMAT.md fixes",
    "malformed-row": "a column of the wrong type or NULL: the row cannot be checked",
    "missing-record": "a position whose chain row or stored event is gone",
    "version-gap": "an aggregate's versions do not run 1, 2, 3...",
    "identity-mismatch": "the stored event is not the one the chain row names",
    "unchained-record": "a stored event that no chain position accounts for",
    "unauthorised-key-event": "a key event not signed by a key allowed to manage keys",
    "bad-payload": "a key event whose payload lacks or mistypes the fields it needs",
    "root-key-mismatch": "the log's root key is not the pinned one",
    "bad-checkpoint": "a checkpoint that is malformed or not signed by the root key",
    "checkpoint-mismatch": "the log's Merkle root or chain head at a checkpoint's size differs",
    "truncated": "a checkpoint holds more events than the log",
    "fork": "two checkpoints of one size with different roots",
    "bundle-mismatch": "an evidence bundle's manifest or keys.json differs from its records",
    "snapshot-mismatch": "a stored snapshot that is unsealed, or differs from its events replayed",
}


@dataclass(frozen=True)
class Fault:
    position: int | None
    originator_id: str | None
    version: int | None
    kind: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class KeyInfo:
    public: bytes
    owner: str
    valid_from: int  # first position it may sign (its own registration for the root key)
    may_register: bool
    revoked_at: int | None = None


@dataclass
class Report:
    ok: bool
    events: int
    faults: list[Fault]
    root: bytes
    head: bytes
    root_key_id: str | None
    origin: str | None
    checkpoints_checked: int
    seconds: float
    workers: int
    # Every fault found; `faults` holds them all unless they were streamed (verify_log's
    # `on_fault`), when it holds the first only.
    fault_count: int = -1

    def __post_init__(self) -> None:
        if self.fault_count < 0:
            self.fault_count = len(self.faults)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "fault_count": self.fault_count,
            "faults": [f.as_dict() for f in self.faults],
            "root": self.root.hex(),
            "head": self.head.hex(),
            "root_key_id": self.root_key_id,
            "origin": self.origin,
            "checkpoints_checked": self.checkpoints_checked,
            "seconds": round(self.seconds, 3),
            "workers": self.workers,
        }


class LogSource(Protocol):
    def size(self) -> int: ...
    def read(self, lo: int, hi: int) -> list[ChainRow]: ...
    def key_rows(self) -> list[ChainRow]: ...
    def unchained(self) -> list[UnchainedRow]: ...
    def checkpoints(self) -> list[str]: ...
    def worker_spec(self) -> Any: ...


# Key history ------------------------------------------------------------------------------


@dataclass
class KeyTimeline:
    keys: dict[str, KeyInfo] = field(default_factory=dict)
    root_key_id: str | None = None
    origin: str | None = None


def build_timeline(rows: Sequence[ChainRow], pinned_root: str | None = None) -> tuple[KeyTimeline, list[Fault]]:
    """Replay key events in position order; only properly authorised ones are trusted."""
    tl, faults = KeyTimeline(), []
    for r in rows:
        if r.state is None or r.topic not in KEY_TOPICS or malformed(r):
            continue  # a malformed row is check_rows' to report
        data, problem = parse_canonical(r.state)
        if problem is not None:
            # Not trusted: two readers could take different keys from it (a repeated
            # "key_id"); check_rows reports it as non-canonical at its position.
            continue
        if type(data) is not dict:
            faults.append(_fault(r, "bad-payload", "key event payload is not a JSON object"))
            continue
        try:
            if r.topic == STARTED_TOPIC:
                _start(tl, r, data, pinned_root, faults)
            elif r.topic == REGISTERED_TOPIC:
                _register(tl, r, data, faults)
            elif r.topic == REVOKED_TOPIC:
                _revoke(tl, r, data, faults)
        except NotCanonical as e:  # e.g. a key written in upper-case hex
            faults.append(_fault(r, "non-canonical", f"key event ignored: {e}"))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            # A decodable payload without the fields (or hex keys) a key event needs.
            faults.append(_fault(r, "bad-payload", f"malformed key event payload: {e!r}"))
    return tl, faults


def _start(tl: KeyTimeline, r: ChainRow, data: dict, pinned: str | None, faults: list[Fault]) -> None:
    public = bytes.fromhex(lower_hex_64(data, "root_public_key"))
    load_public(public)  # ValueError unless a 32-byte Ed25519 key
    kid = fingerprint(public)
    if tl.root_key_id is not None:
        faults.append(_fault(r, "unauthorised-key-event", "a second key ring start; ignored"))
        return
    if r.position != 1:
        faults.append(_fault(r, "unauthorised-key-event", "the key ring must start at position 1"))
    if kid != lower_hex_64(data, "root_key_id"):
        faults.append(_fault(r, "unauthorised-key-event", "root key id does not match its public key"))
        return
    if pinned and kid != pinned:
        faults.append(_fault(r, "root-key-mismatch", f"expected root key {pinned}, found {kid}"))
        return
    tl.root_key_id, tl.origin = kid, data.get("origin")
    tl.keys[kid] = KeyInfo(public, "ledger-root", r.position, True)


def _authoriser(tl: KeyTimeline, r: ChainRow, faults: list[Fault]) -> bool:
    k = tl.keys.get(r.key_id)
    ok = (
        k is not None and k.may_register and k.valid_from <= r.position
        and (k.revoked_at is None or r.position <= k.revoked_at)
        and verify_signature(load_public(k.public), r.signature, _hash(r))
    )
    if not ok:
        faults.append(_fault(r, "unauthorised-key-event", f"key event not signed by a key allowed to manage keys ({r.key_id[:16]}...)"))
    return ok


def _register(tl: KeyTimeline, r: ChainRow, data: dict, faults: list[Fault]) -> None:
    if not _authoriser(tl, r, faults):
        return
    public = bytes.fromhex(lower_hex_64(data, "public_key"))
    load_public(public)  # ValueError unless a 32-byte Ed25519 key
    if fingerprint(public) != lower_hex_64(data, "key_id"):
        faults.append(_fault(r, "unauthorised-key-event", "registered key id does not match its public key"))
        return
    if data["key_id"] in tl.keys:  # one validity interval per key: never re-registered
        faults.append(_fault(r, "unauthorised-key-event", f"key {data['key_id'][:16]}... is already registered; ignored"))
        return
    owner, may_register = data["owner"], data["may_register_keys"]
    if type(owner) is not str or type(may_register) is not bool:
        raise TypeError(f"owner must be text and may_register_keys true or false, found {owner!r:.40}, {may_register!r:.10}")
    # A key signs from the position after its registration.
    tl.keys[data["key_id"]] = KeyInfo(public, owner, r.position + 1, may_register)


def _revoke(tl: KeyTimeline, r: ChainRow, data: dict, faults: list[Fault]) -> None:
    k = tl.keys.get(lower_hex_64(data, "key_id")) if _authoriser(tl, r, faults) else None
    if k is not None and k.revoked_at is None:  # the first revocation stands
        k.revoked_at = r.position


# Per-range checks (pure) ------------------------------------------------------------------


@dataclass
class RangeResult:
    lo: int
    hi: int
    faults: list[Fault]
    leaves: list[bytes]
    # originator id -> (first version, its position, last version, its position)
    versions: dict[str, tuple[int, int, int, int]]
    last_hash: bytes


def _hash(r: ChainRow) -> bytes:
    return record_hash(r.event_originator_id, r.event_originator_version, r.topic, r.state)  # type: ignore[arg-type]


def _fault(r: ChainRow, kind: str, detail: str) -> Fault:
    return Fault(r.position, r.originator_id, r.originator_version, kind, detail)


_ROW_COLUMNS = (  # (name, the types a checkable row has there), in ChainRow's order
    ("position", (int,)), ("notification_id", (int,)), ("originator_id", (str,)),
    ("originator_version", (int,)), ("key_id", (str,)), ("signature", (bytes,)),
    ("chain_hash", (bytes,)), ("event originator_id", (str, type(None))),
    ("event originator_version", (int, type(None))), ("topic", (str, type(None))),
    ("state", (bytes, type(None))),
)


def malformed(r: Any) -> str | None:
    """Why a row read back cannot be checked as a record (a column of the wrong type, a
    NULL where a value must be), or None. Readers leave such values as the database gave
    them (ledger.rows.column_as), so that each is a fault here, not a crash."""
    if len(r) != len(_ROW_COLUMNS):
        return f"a row of {len(r)} columns, expected {len(_ROW_COLUMNS)}"
    wrong = [f"{name} ({type(value).__name__}: {value!r:.40})"
             for (name, kinds), value in zip(_ROW_COLUMNS, r, strict=True) if type(value) not in kinds]
    if r[-1] is not None and None in r[7:10]:
        wrong.append("a stored event without its identity or topic")
    return "wrong type or NULL in " + ", ".join(wrong) if wrong else None


def check_rows(rows: Iterable[ChainRow], lo: int, hi: int, previous: bytes | None, keys: dict[str, KeyInfo]) -> RangeResult:
    """Check positions lo..hi. `previous` is the stored chain hash at lo-1 (None if missing)."""
    faults: list[Fault] = []
    leaves: list[bytes] = []
    versions: dict[str, tuple[int, int, int, int]] = {}
    publics: dict[str, Any] = {}
    add_leaf, add_fault = leaves.append, faults.append
    expected = lo
    # The loop runs once per event: fields unpacked once, the usual case inline, every
    # fault still reported as the helpers below describe it.
    for r in rows:
        try:
            position, nid, oid, version, kid, signature, stored_hash, e_oid, e_ver, topic, state = r
            if (type(position) is not int or type(oid) is not str or type(version) is not int
                    or type(kid) is not str or type(signature) is not bytes
                    or type(stored_hash) is not bytes or (state is not None and (
                        type(state) is not bytes or type(topic) is not str
                        or type(e_oid) is not str or type(e_ver) is not int))):
                raise _Malformed(malformed(r) or "a column of the wrong type")
        except (TypeError, ValueError, _Malformed) as e:
            expected, previous = _malformed_row(r, e, expected, add_fault, add_leaf)
            continue
        while expected < position:  # a whole chain row is gone
            add_fault(Fault(expected, None, None, "missing-record", "no chain row at this position"))
            add_leaf(GENESIS_HASH)
            expected += 1
            previous = None
        expected = position + 1
        seen = versions.get(oid)
        if seen is None:
            versions[oid] = (version, position, version, position)
        else:
            if version != seen[2] + 1:
                add_fault(_fault(r, "version-gap", f"expected version {seen[2] + 1}, found {version}"))
            versions[oid] = (seen[0], seen[1], version, position)
        if state is None:
            add_fault(_fault(r, "missing-record", f"stored event {nid} is missing"))
            add_leaf(GENESIS_HASH)
            previous = stored_hash
            continue
        if e_oid != oid or e_ver != version:
            add_fault(_fault(r, "identity-mismatch",
                f"expected {oid} v{version}, found {e_oid} v{e_ver} at notification {nid}"))
        h = record_hash(e_oid, e_ver, topic, state)
        add_leaf(leaf_hash(h, signature))
        k = keys.get(kid)
        if k is None or position < k.valid_from or (k.revoked_at is not None and position > k.revoked_at):
            _check_key_and_signature(r, h, keys, publics, faults)
        else:
            public = publics.get(kid)
            if public is None:
                public = publics[kid] = load_public(k.public)
            if not verify_signature(public, signature, h):
                add_fault(_bad_signature(r, k))
        value, problem = parse_canonical(state)
        if problem is not None:
            add_fault(_fault(r, "non-canonical", problem))
        if k is not None and topic != STARTED_TOPIC:
            _check_actor(r, value, k, add_fault)
        if previous is not None:
            want = chain_hash(previous, h, signature)
            if want != stored_hash:
                add_fault(_fault(r, "chain-break", f"expected chain hash {want.hex()}, found {stored_hash.hex()}"))
        previous = stored_hash
    while expected <= hi:
        add_fault(Fault(expected, None, None, "missing-record", "no chain row at this position"))
        add_leaf(GENESIS_HASH)
        expected += 1
    return RangeResult(lo, hi, faults, leaves, versions, previous or b"")


class _Malformed(ValueError):
    pass


def _malformed_row(r: Any, e: Exception, expected: int, add_fault: Callable[[Fault], None],
                   add_leaf: Callable[[bytes], None]) -> tuple[int, bytes | None]:
    """Report a row that cannot be checked at its position; the run goes on after it.
    Its leaf counts as missing, and the next row's link cannot be checked (no hash)."""
    position = r[0] if len(r) and type(r[0]) is int else expected
    while expected < position:
        add_fault(Fault(expected, None, None, "missing-record", "no chain row at this position"))
        add_leaf(GENESIS_HASH)
        expected += 1
    oid = r[2] if len(r) > 2 and type(r[2]) is str else None
    version = r[3] if len(r) > 3 and type(r[3]) is int else None
    add_fault(Fault(position, oid, version, "malformed-row", str(e)))
    add_leaf(GENESIS_HASH)
    return max(expected, position + 1), None


def _check_actor(r: ChainRow, value: Any, k: KeyInfo, add_fault: Callable[[Fault], None]) -> None:
    """The key that signed must be a key of the person the event names as its actor."""
    names, actor = actor_of(value)
    if names and actor != k.owner:
        add_fault(_fault(r, "actor-key-mismatch",
            f"the event names {actor!r:.80} as its actor but is signed by key "
            f"{r.key_id[:16]}... of {k.owner!r}"))


def _bad_signature(r: ChainRow, k: KeyInfo) -> Fault:
    return _fault(r, "bad-signature", f"signature by {k.owner} ({r.key_id[:16]}...) does not match the stored bytes and identity")


def _check_key_and_signature(r: ChainRow, h: bytes, keys: dict[str, KeyInfo], publics: dict, faults: list[Fault]) -> None:
    k = keys.get(r.key_id)
    if k is None or r.position < k.valid_from:
        faults.append(_fault(r, "unknown-key", f"key {r.key_id[:16]}... was not registered before this position"))
        return
    if k.revoked_at is not None and r.position > k.revoked_at:
        faults.append(_fault(r, "revoked-key", f"key {r.key_id[:16]}... of {k.owner} was revoked at position {k.revoked_at}"))
    public = publics.get(r.key_id)
    if public is None:
        public = publics[r.key_id] = load_public(k.public)
    if not verify_signature(public, r.signature, h):
        faults.append(_bad_signature(r, k))


# Workers ----------------------------------------------------------------------------------

_worker_source: Any = None


def _worker_open(spec: Any) -> None:
    """Pool initializer: open the log once per worker. A failure here is left for the
    first range to raise again, with its own message (not as a broken pool)."""
    global _worker_source
    try:
        _worker_source = open_source(spec)
    except Exception:  # noqa: BLE001 - re-raised by `_worker_check`
        _worker_source = None


def _worker_check(spec: Any, lo: int, hi: int, keys: dict[str, KeyInfo]) -> RangeResult:
    global _worker_source
    if _worker_source is None:
        _worker_source = open_source(spec)
    return _check_range(_worker_source, lo, hi, keys)


def _check_range(source: LogSource, lo: int, hi: int, keys: dict[str, KeyInfo]) -> RangeResult:
    rows = source.read(max(1, lo - 1), hi)
    previous: bytes | None = GENESIS_HASH
    if lo > 1:
        previous = rows[0].chain_hash if rows and rows[0].position == lo - 1 else None
        rows = [r for r in rows if r.position >= lo]
    return check_rows(rows, lo, hi, previous, keys)


def open_source(spec: Any) -> LogSource:
    kind, arg = spec
    if kind == "db":
        from ledger.application import open_ledger

        return DatabaseSource(open_ledger(arg))
    if kind == "bundle":
        from ledger.bundle.source import BundleSource

        return BundleSource(arg)
    raise ValueError(f"unknown source {kind}")


class DatabaseSource:
    def __init__(self, app: Any) -> None:
        self.app = app

    def size(self) -> int:
        return self.app.size()

    def read(self, lo: int, hi: int) -> list[ChainRow]:
        return self.app.read_chain(lo, hi)

    def key_rows(self) -> list[ChainRow]:
        return self.app.read_chain(1, self.size(), KEY_TOPICS)

    def unchained(self) -> list[UnchainedRow]:
        from ledger.recorders.chain import unchained_rows

        return unchained_rows(self.app.recorder)

    def checkpoints(self) -> list[str]:
        return [r[0] for r in self.app.recorder.fetch("SELECT note FROM {checkpoints} ORDER BY id")]

    def worker_spec(self) -> Any:
        return ("db", self.app.backend.url)


# The whole run ----------------------------------------------------------------------------


def verify_log(
    source: LogSource,
    *,
    extra_checkpoints: Sequence[str] = (),
    pinned_root: str | None = None,
    workers: int | None = None,
    chunk: int = 5000,
    progress: Callable[[int, int], None] | None = None,
    on_fault: Callable[[Fault], None] | None = None,
    extra_checks: Sequence[Callable[[], Iterable[Fault]]] = (),
) -> Report:
    """Check the whole log. With `on_fault`, each fault is handed to it as it is found
    (the key history's first, then range by range in position order, then those found
    across ranges, in stored rows and in checkpoints) and not kept: the report then holds
    the count and the first fault only, so that a log with 200,000 faults is checked in
    bounded memory. `extra_checks` run last (e.g. the snapshots' re-derivation)."""
    started = time.perf_counter()
    collector = _Collector(on_fault)
    n = source.size()
    workers = workers or os.cpu_count() or 1
    spec = source.worker_spec()
    pool = None
    if workers > 1 and n >= PARALLEL_THRESHOLD and spec is not None:
        # Started first: the workers open the log while the key history is replayed here.
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_open, initargs=(spec,))
        for _ in range(workers):
            pool.submit(int)
    try:
        timeline, faults = build_timeline(source.key_rows(), pinned_root)
        if n and timeline.root_key_id is None:
            faults.append(Fault(1, None, None, "unknown-key", "the log does not start with a key ring"))
        collector.add_all(faults)
        # While the workers check the ranges, this process reads what it checks itself.
        side: dict[str, Any] = {}

        def meanwhile() -> None:
            side["unchained"] = source.unchained()
            side["checkpoints"] = source.checkpoints()

        results, used = _check_all(source, n, timeline.keys, workers, chunk, progress, pool,
                                   meanwhile, collector.add_range)
    except BaseException:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        raise
    if pool is not None:
        pool.shutdown(wait=False)  # every range is done; the workers exit on their own
    leaves: list[bytes] = []
    for res in results:
        leaves.extend(res.leaves)
    late = _stitch_versions(results)
    late.extend(_unchained_faults(side["unchained"]))
    head = results[-1].last_hash if results else GENESIS_HASH
    checked = _check_checkpoints(source, extra_checkpoints, timeline, n, leaves, late,
                                 side["checkpoints"])
    collector.add_all(late)
    for check in extra_checks:
        collector.add_all(list(check()))
    return Report(
        ok=collector.count == 0, events=n, faults=collector.sorted(), root=merkle.root(leaves),
        head=head, root_key_id=timeline.root_key_id, origin=timeline.origin,
        checkpoints_checked=checked, seconds=time.perf_counter() - started, workers=used,
        fault_count=collector.count,
    )


def verify_database(app: Any, *, skip_snapshots: bool = False,
                    snapshot_progress: Callable[[int, int], None] | None = None, **kwargs: Any) -> Report:
    """`verify_log` over a ledger's database, and then every stored snapshot re-derived
    from the events (ledger.snapshots.check_snapshots) unless `skip_snapshots`."""
    from ledger.snapshots import check_snapshots

    checks = kwargs.pop("extra_checks", ())
    if not skip_snapshots:
        checks = (*checks, lambda: check_snapshots(app, progress=snapshot_progress))
    return verify_log(DatabaseSource(app), extra_checks=checks, **kwargs)


def _fault_order(f: Fault) -> tuple[bool, int, str]:
    return (f.position is None, f.position or 0, f.kind)


class _Collector:
    """Keeps every fault for the report, or hands each to `on_fault` and keeps the first."""

    def __init__(self, on_fault: Callable[[Fault], None] | None) -> None:
        self.on_fault, self.count, self.kept = on_fault, 0, []  # type: list[Fault]

    def add_all(self, faults: list[Fault]) -> None:
        faults.sort(key=_fault_order)
        self.count += len(faults)
        if self.on_fault is None:
            self.kept.extend(faults)
            return
        if faults and not self.kept:
            self.kept.append(faults[0])
        for f in faults:
            self.on_fault(f)

    def add_range(self, res: RangeResult) -> None:
        self.add_all(res.faults)
        res.faults = []  # handed on; the range keeps only its leaves and versions

    def sorted(self) -> list[Fault]:
        return sorted(self.kept, key=_fault_order)


def _check_all(source: LogSource, n: int, keys: dict, workers: int, chunk: int,
               progress: Callable[[int, int], None] | None, pool: ProcessPoolExecutor | None,
               meanwhile: Callable[[], None],
               done_range: Callable[[RangeResult], None]) -> tuple[list[RangeResult], int]:
    spec = source.worker_spec()
    results: list[RangeResult] = []
    done = 0
    parallel = pool is not None
    # In parallel, ranges of equal size in a multiple of the workers, so that all finish
    # together (5 ranges of 5000 on 2 workers left one idle for a fifth of the run).
    parts = workers * -(-n // (workers * chunk)) if parallel else -(-n // chunk)
    size = max(1, -(-n // max(1, parts)))
    ranges = [(lo, min(n, lo + size - 1)) for lo in range(1, n + 1, size)]
    if pool is None:
        for lo, hi in ranges:
            results.append(_check_range(source, lo, hi, keys))
            done_range(results[-1])
            done += hi - lo + 1
            if progress:
                progress(done, n)
        meanwhile()
        return results, 1
    futures = [pool.submit(_worker_check, spec, lo, hi, keys) for lo, hi in ranges]
    meanwhile()
    for f in futures:
        res = f.result()
        results.append(res)
        done_range(res)
        done += res.hi - res.lo + 1
        if progress:
            progress(done, n)
    return results, workers


def _stitch_versions(results: Sequence[RangeResult]) -> list[Fault]:
    """Versions of each aggregate must run 1, 2, 3... across range boundaries too."""
    faults, last = [], {}
    for res in results:
        for oid, (first, first_pos, final, _) in res.versions.items():
            want = last.get(oid, 0) + 1
            if first != want:
                faults.append(Fault(first_pos, oid, first, "version-gap", f"expected version {want}, found {first}"))
            last[oid] = final
    return faults


def _unchained_faults(rows: Sequence[UnchainedRow]) -> list[Fault]:
    return [
        Fault(None, r.originator_id, r.originator_version, "unchained-record",
              f"stored event at notification {r.notification_id} ({r.topic}) has no chain position")
        for r in rows
    ]


def _check_checkpoints(source: LogSource, extra: Sequence[str], tl: KeyTimeline, n: int,
                       leaves: list[bytes], faults: list[Fault], stored: Sequence[str] | None = None) -> int:
    texts = list(source.checkpoints() if stored is None else stored) + list(extra)
    if not texts:
        return 0
    root_public = tl.keys[tl.root_key_id].public if tl.root_key_id else None
    parsed: list[notes.Checkpoint] = []
    for text in texts:
        try:
            if root_public is None:
                raise CheckpointFormatError("no root key in the log to check it against")
            parsed.append(notes.verify(text, root_public))
        except (CheckpointFormatError, TypeError, ValueError, AttributeError) as e:  # an edited note
            faults.append(Fault(None, None, None, "bad-checkpoint", str(e)))
    roots = merkle.prefix_roots(leaves, {cp.size for cp in parsed if cp.size <= n})
    by_size: dict[int, bytes] = {}
    for cp in parsed:
        if cp.origin != tl.origin:
            faults.append(Fault(None, None, None, "bad-checkpoint", f"checkpoint origin {cp.origin!r} is not this log's {tl.origin!r}"))
            continue
        if cp.size in by_size and by_size[cp.size] != cp.root:
            faults.append(Fault(cp.size, None, None, "fork",
                f"two checkpoints of size {cp.size} with different roots: {by_size[cp.size].hex()} and {cp.root.hex()}"))
        by_size.setdefault(cp.size, cp.root)
        if cp.size > n:
            faults.append(Fault(n + 1, None, None, "truncated",
                f"checkpoint of {cp.time:%Y-%m-%dT%H:%M:%SZ} holds {cp.size} events, the log has {n}"))
        elif roots[cp.size] != cp.root:
            faults.append(Fault(cp.size, None, None, "checkpoint-mismatch",
                f"expected root {cp.root.hex()} at size {cp.size}, found {roots[cp.size].hex()}"))
    return len(texts)


def make_checkpoint(app: Any, root_signer: Any, *, progress: Callable[[int, int], None] | None = None) -> tuple[str, Report]:
    """Verify the log, then sign and store a checkpoint of it. Refuses a log with faults."""
    from datetime import UTC, datetime

    from ledger.errors import LedgerError

    report = verify_log(DatabaseSource(app), progress=progress)
    if not report.ok:
        raise LedgerError(
            f"refusing to sign a checkpoint: verification found {len(report.faults)} fault(s); "
            "run `pmo-ledger verify` for the list"
        )
    cp = notes.Checkpoint(report.origin or "", report.events, report.root, report.head, datetime.now(UTC))
    text = notes.sign(cp, root_signer)
    app.recorder.execute("INSERT INTO {checkpoints} (size, note) VALUES (?, ?)", (cp.size, text))
    return text, report
