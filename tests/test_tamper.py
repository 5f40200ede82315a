"""The tamper suite: each tampering is detected AND localised to the right position.

Every case starts from the same log (`log` fixture), on SQLite and on PostgreSQL:

    1 key ring started (root)      3 A v1 created   6 B v1 created
    2 alice's key registered       4 A v2 +1.50     7 B v2 +3.50
                                   5 A v3 +2.50     8 B v3 +4.50

and asserts the exact set of (position, fault kind) verification reports.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from ledger import checkpoint as notes
from ledger import verify as verify_module
from ledger.errors import ActorKeyMismatchError, KeyNotFoundError, KeyRevokedError
from ledger.keys import Signer
from ledger.verify import DatabaseSource, make_checkpoint, verify_log
from tests.support import (
    PASSPHRASE,
    Act,
    Counter,
    append_forged_row,
    chain_row,
    delete_record,
    embedded,
    faults_of,
    flip_payload_byte,
    flip_signature_byte,
    record_directly,
    resign,
    set_chain_column,
    snapshot_of_tables,
    swap_positions,
    swap_stored_events,
    unchain,
)

PMO_LEDGER = str(Path(sys.executable).parent / "pmo-ledger")


@dataclasses.dataclass
class Log:
    app: object
    root: Signer
    alice: Signer
    a: str  # originator ids
    b: str

    def verify(self, **kwargs):
        return verify_log(DatabaseSource(self.app), **kwargs)


@pytest.fixture
def log(ledger, alice) -> Log:
    app, root = ledger
    ids = []
    for name, amounts in (("A", ("1.50", "2.50")), ("B", ("3.50", "4.50"))):
        c = Counter(name)
        app.save(c, signer=alice)
        for i, amount in enumerate(amounts):
            c.increment(Decimal(amount), f"{name.lower()}{i + 1}")
            app.save(c, signer=alice)
        ids.append(str(c.id))
    assert app.size() == 8
    report = verify_log(DatabaseSource(app))
    assert report.ok, report.faults
    return Log(app, root, alice, *ids)


def test_payload_byte_changed(log):
    flip_payload_byte(log.app, 4, b'"1.50"', b'"9.50"')
    report = log.verify()
    assert not report.ok
    assert faults_of(report) == {(4, "bad-signature"), (4, "chain-break")}
    assert {(f.originator_id, f.version) for f in report.faults} == {(log.a, 2)}


def test_signature_changed(log):
    flip_signature_byte(log.app, 5)
    report = log.verify()
    assert faults_of(report) == {(5, "bad-signature"), (5, "chain-break")}
    assert {(f.originator_id, f.version) for f in report.faults} == {(log.a, 3)}


def test_stored_event_deleted(log):
    nid = chain_row(log.app, 4).notification_id
    log.app.recorder.execute("DELETE FROM {events} WHERE {nid} = ?", (nid,))
    report = log.verify()
    if embedded(log.app):  # the chain entry was in the same row: the whole record is gone
        assert faults_of(report) == {(4, "missing-record"), (5, "version-gap")}
        return
    assert faults_of(report) == {(4, "missing-record")}
    assert report.faults[0].originator_id == log.a and report.faults[0].version == 2


def test_chain_row_deleted(log):
    unchain(log.app, 4)
    report = log.verify()
    assert faults_of(report) == {(4, "missing-record"), (5, "version-gap"), (None, "unchained-record")}
    (unchained,) = [f for f in report.faults if f.kind == "unchained-record"]
    assert (unchained.originator_id, unchained.version) == (log.a, 2)


def test_whole_record_deleted(log):
    delete_record(log.app, 7)
    report = log.verify()
    assert faults_of(report) == {(7, "missing-record"), (8, "version-gap")}


def test_two_rows_swapped(log):
    swap_stored_events(log.app, 4, 7)
    report = log.verify()
    if embedded(log.app):  # the rows carry their chain entries: two positions swapped
        _assert_positions_4_and_7_swapped(report)
        return
    assert faults_of(report) == {
        (p, kind) for p in (4, 7) for kind in ("identity-mismatch", "bad-signature", "chain-break")
    }


def test_two_chain_positions_swapped(log):
    swap_positions(log.app, 4, 7)
    _assert_positions_4_and_7_swapped(log.verify())


def _assert_positions_4_and_7_swapped(report):
    # The links into and out of both moved rows break; both aggregates' versions are out of order.
    assert {p for p, k in faults_of(report) if k == "chain-break"} == {4, 5, 7, 8}
    assert {p for p, k in faults_of(report) if k == "version-gap"} == {4, 5, 6, 7, 8}
    assert {k for _, k in faults_of(report)} == {"chain-break", "version-gap"}


def test_topic_changed(log):
    nid = chain_row(log.app, 7).notification_id
    log.app.recorder.execute("UPDATE {events} SET topic = ? WHERE {nid} = ?",
                             ("tests.support:Counter.Created", nid))
    report = log.verify()
    assert faults_of(report) == {(7, "bad-signature"), (7, "chain-break")}


def test_row_identity_changed(log):
    nid = chain_row(log.app, 8).notification_id
    log.app.recorder.execute("UPDATE {events} SET originator_version = ? WHERE {nid} = ?", (9, nid))
    report = log.verify()
    if embedded(log.app):  # no separate chain copy of the identity to disagree with
        assert faults_of(report) == {(8, "version-gap"), (8, "bad-signature"), (8, "chain-break")}
        return
    assert faults_of(report) == {(8, "identity-mismatch"), (8, "bad-signature"), (8, "chain-break")}


def test_consistent_reordering_is_caught_by_a_held_checkpoint(log):
    """An attacker who can write the database can move records and recompute the (unkeyed)
    chain: every signature and link checks out again. A held checkpoint still catches it."""
    from ledger.hashing import chain_hash, record_hash

    held, _ = make_checkpoint(log.app, log.root)
    log.app.recorder.execute("DELETE FROM {checkpoints}")
    swap_positions(log.app, 5, 6)  # A v3 <-> B v1
    previous = chain_row(log.app, 4).chain_hash
    for r in log.app.read_chain(5, 8):
        previous = chain_hash(previous, record_hash(r.originator_id, r.originator_version, r.topic, r.state),
                              r.signature)
        set_chain_column(log.app, r.position, "chain_hash", previous)
    assert log.verify().ok  # the log alone cannot tell: this is what checkpoints are for
    report = log.verify(extra_checkpoints=[held])
    assert faults_of(report) == {(8, "checkpoint-mismatch")}


def test_forged_stored_event_without_chain_row(log):
    log.app.recorder.execute(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "SELECT originator_id, ?, topic, state FROM {events} WHERE {nid} = ?",
        (4, chain_row(log.app, 5).notification_id),
    )
    report = log.verify()
    assert faults_of(report) == {(None, "unchained-record")}
    assert (report.faults[0].originator_id, report.faults[0].version) == (log.a, 4)


def test_forged_row_at_the_tail_signed_by_an_attacker_key(log):
    mallory = Signer.generate("mallory")
    a = log.app.repository.get(UUID(log.a))
    a.increment(Decimal("1000000.00"), "forged")
    record_directly(log.app, a, mallory)  # a well-formed row with a valid chain link
    report = log.verify()
    assert faults_of(report) == {(9, "unknown-key")}


def test_forged_row_appended_by_hand(log):
    mallory = Signer.generate("mallory")
    row = chain_row(log.app, 5)
    state = row.state.replace(b'"2.50"', b'"9.99"')
    from ledger.hashing import record_hash

    sig = mallory.sign(record_hash(log.a, 4, row.topic, state))
    pos = append_forged_row(log.app, log.a, 4, row.topic, state, mallory.key_id, sig)
    assert pos == 9
    report = log.verify()
    assert faults_of(report) == {(9, "unknown-key")}


def test_old_signed_event_reinserted_as_a_new_row(log):
    old = chain_row(log.app, 4)  # A v2, signed by alice
    pos = append_forged_row(log.app, log.a, 4, old.topic, old.state, old.key_id, old.signature)
    assert pos == 9
    report = log.verify()
    assert faults_of(report) == {(9, "bad-signature")}
    assert (report.faults[0].originator_id, report.faults[0].version) == (log.a, 4)


def test_tail_truncated_against_a_held_checkpoint(log):
    held, _ = make_checkpoint(log.app, log.root)
    for position in (8, 7):
        delete_record(log.app, position)
    log.app.recorder.execute("DELETE FROM {checkpoints}")  # the attacker removes the evidence too
    assert log.verify().ok  # on its own the shorter log looks fine...
    report = log.verify(extra_checkpoints=[held])
    assert faults_of(report) == {(7, "truncated")}  # ...the held checkpoint says otherwise


def test_tail_rewritten_against_a_held_checkpoint(log):
    held, _ = make_checkpoint(log.app, log.root)
    for position in (8, 7):
        delete_record(log.app, position)
    log.app.recorder.execute("DELETE FROM {checkpoints}")
    b = log.app.repository.get(UUID(log.b))
    b.increment(Decimal("0.01"), "rewritten")
    b.increment(Decimal("0.02"), "history")
    b.increment(Decimal("0.03"), "grows")
    log.app.save(b, signer=log.alice)
    assert log.app.size() == 9 and log.verify().ok
    report = log.verify(extra_checkpoints=[held])
    assert faults_of(report) == {(8, "checkpoint-mismatch")}


def test_fork_two_checkpoints_of_one_size_with_different_roots(log):
    text, _ = make_checkpoint(log.app, log.root)  # stored in the ledger
    cp, _, _ = notes.parse(text)
    other = notes.sign(dataclasses.replace(cp, root=bytes(range(32))), log.root)
    report = log.verify(extra_checkpoints=[other])
    assert faults_of(report) == {(8, "fork"), (8, "checkpoint-mismatch")}
    # A consistent held checkpoint is fine.
    assert log.verify(extra_checkpoints=[text]).ok


def test_checkpoint_not_signed_by_the_root_key(log):
    text, _ = make_checkpoint(log.app, log.root)
    cp, _, _ = notes.parse(text)
    report = log.verify(extra_checkpoints=[notes.sign(cp, Signer.generate())])
    assert faults_of(report) == {(None, "bad-checkpoint")}


def test_event_signed_after_its_key_was_revoked(log):
    app = log.app
    bob = app.enrol_signer("bob", PASSPHRASE, by=log.root, actor_id="ledger-root", actor_name="Bob")  # 9
    c = Counter("bob's")
    app.save(c, signer=app.signer_for(bob.key_id, PASSPHRASE))  # 10
    app.revoke_key(bob.key_id, by=log.root, actor_id="ledger-root", actor_name="Root", reason="left")  # 11
    c.increment(Decimal("5.00"), "after revocation")
    record_directly(app, c, bob)  # 12: bypasses signer_for, which would refuse
    assert chain_row(app, 12).key_id == bob.key_id
    report = log.verify()
    assert faults_of(report) == {(12, "revoked-key")}


def test_unknown_key(log):
    stranger = Signer.generate("stranger")
    c = Counter("stranger's")
    record_directly(log.app, c, stranger)  # 9: written behind the application's back
    report = log.verify()
    assert faults_of(report) == {(9, "unknown-key")}


def test_application_refuses_to_sign_with_an_unknown_or_revoked_key(log):
    """Regression: save() used to accept any key and leave it to verify to object."""
    size = log.app.size()
    with pytest.raises(KeyNotFoundError):
        log.app.save(Counter("stranger's"), signer=Signer.generate("stranger"))
    alice = log.app.enrol_signer("alice2", PASSPHRASE, by=log.root, actor_id="ledger-root", actor_name="Alice Two")
    log.app.revoke_key(alice.key_id, by=log.root, actor_id="ledger-root", actor_name="Root", reason="left")
    size = log.app.size()
    with pytest.raises(KeyRevokedError):
        log.app.save(Counter("alice's"), signer=alice)
    assert log.app.size() == size


def test_key_registration_forged_by_an_unauthorised_key(log):
    mallory = Signer.generate("mallory")
    ring = log.app.keyring()
    ring.register_key(key_id=mallory.key_id, public_key=mallory.public_bytes.hex(), owner="mallory",
                      may_register_keys=True, by_key_id=log.root.key_id, actor_id="ledger-root",
                      actor_name="Root", reason="forged")
    record_directly(log.app, ring, mallory)  # 9: claims the root's authority, signed by mallory
    c = Counter("mallory's")
    record_directly(log.app, c, mallory)  # 10
    report = log.verify()
    assert faults_of(report) == {(9, "unauthorised-key-event"), (9, "unknown-key"), (10, "unknown-key")}


def test_every_fault_is_reported(log):
    flip_payload_byte(log.app, 4, b'"1.50"', b'"9.50"')
    flip_signature_byte(log.app, 7)
    report = log.verify()
    assert {p for p, _ in faults_of(report)} == {4, 7}
    assert faults_of(report) == {(4, "bad-signature"), (4, "chain-break"), (7, "bad-signature"), (7, "chain-break")}


@pytest.mark.parametrize("case", ["payload", "chain-row-deleted", "swap", "signature-at-boundary"])
def test_parallel_verification_localises_faults_the_same_way(log, monkeypatch, case):
    if case == "payload":
        flip_payload_byte(log.app, 4, b'"1.50"', b'"9.50"')
    elif case == "chain-row-deleted":
        unchain(log.app, 4)
    elif case == "swap":
        swap_stored_events(log.app, 3, 8)
    else:
        flip_signature_byte(log.app, 6)  # first position of the second range
    serial = log.verify(workers=1)
    assert not serial.ok
    monkeypatch.setattr(verify_module, "PARALLEL_THRESHOLD", 0)
    parallel = log.verify(workers=2, chunk=3)  # ranges 1-3, 4-6, 7-8 checked in 2 processes
    assert parallel.workers == 2
    assert parallel.faults == serial.faults
    assert (parallel.root, parallel.head) == (serial.root, serial.head)


def test_parallel_verification_of_a_clean_log(log, monkeypatch):
    monkeypatch.setattr(verify_module, "PARALLEL_THRESHOLD", 0)
    report = log.verify(workers=2, chunk=3)
    assert report.ok and report.workers == 2 and report.events == 8
    assert report.head == log.app.head()[1]


def _cli_verify(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PMO_LEDGER, "verify", "--json", "--db", url, *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PMO_LEDGER_PASSPHRASE": PASSPHRASE},
    )


def test_cli_verify_json_exit_codes(log, backend_url, tmp_path):
    clean = _cli_verify(backend_url, tmp_path)
    assert clean.returncode == 0, clean.stderr
    out = json.loads(clean.stdout)
    assert out["ok"] is True and out["events"] == 8 and out["faults"] == []

    flip_payload_byte(log.app, 4, b'"1.50"', b'"9.50"')
    flip_signature_byte(log.app, 7)
    dirty = _cli_verify(backend_url, tmp_path)
    assert dirty.returncode == 1, dirty.stderr
    out = json.loads(dirty.stdout)
    assert out["ok"] is False and out["events"] == 8
    assert {(f["position"], f["kind"]) for f in out["faults"]} == {
        (4, "bad-signature"), (4, "chain-break"), (7, "bad-signature"), (7, "chain-break")}
    assert all(set(f) == {"position", "originator_id", "version", "kind", "detail"} for f in out["faults"])
    assert {(f["originator_id"], f["version"]) for f in out["faults"]} == {(log.a, 2), (log.b, 2)}


def test_cli_verify_against_a_held_checkpoint_file(log, backend_url, tmp_path):
    held, _ = make_checkpoint(log.app, log.root)
    note = tmp_path / "held.note"
    note.write_text(held)
    ok = _cli_verify(backend_url, tmp_path, "--checkpoint", str(note))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["checkpoints_checked"] == 2  # the stored one and the held one

    delete_record(log.app, 8)
    log.app.recorder.execute("DELETE FROM {checkpoints}")
    cut = _cli_verify(backend_url, tmp_path, "--checkpoint", str(note))
    assert cut.returncode == 1
    assert [(f["position"], f["kind"]) for f in json.loads(cut.stdout)["faults"]] == [(8, "truncated")]


# Whose signature, and the bytes themselves (issue 16) -------------------------------------


def test_an_act_in_alices_name_signed_by_bobs_key_is_an_actor_key_mismatch(log):
    bob = log.app.enrol_signer("bob", PASSPHRASE, by=log.root, actor_id="ledger-root",
                               actor_name="Ledger root key")  # 9
    log.app.save(Act("alice's own act", "alice", "Alice"), signer=log.alice)  # 10: clean
    record_directly(log.app, Act("approved", "alice", "Alice"), bob)  # 11: a valid key, not hers
    report = log.verify()
    assert faults_of(report) == {(11, "actor-key-mismatch")}
    (f,) = report.faults
    assert "'alice'" in f.detail and "'bob'" in f.detail


def test_the_application_refuses_to_sign_an_act_in_another_persons_name(log):
    before = snapshot_of_tables(log.app)
    with pytest.raises(ActorKeyMismatchError, match="alice"):
        log.app.save(Act("approved", "alice", "Alice"), signer=log.root)
    assert snapshot_of_tables(log.app) == before  # nothing written


def test_an_insider_resigning_an_act_with_another_valid_key_is_still_caught(log):
    """Re-signed and re-chained with keys the server holds: every signature and link is
    valid, but the key is not the actor's."""
    bob = log.app.enrol_signer("bob", PASSPHRASE, by=log.root, actor_id="ledger-root",
                               actor_name="Ledger root key")  # 9
    log.app.save(Act("approved", "alice", "Alice"), signer=log.alice)  # 10
    log.app.save(Counter("after"), signer=log.alice)  # 11
    assert log.verify().ok
    resign(log.app, 10, bob)
    report = log.verify()
    assert faults_of(report) == {(10, "actor-key-mismatch")}


def test_a_key_event_with_a_repeated_key_is_non_canonical(log):
    """{"key_id": A, "key_id": B}: one reader takes the first, another the last."""
    state = chain_row(log.app, 2).state
    kid = json.loads(state)["key_id"]
    doubled = state.replace(b'"key_id":"', b'"key_id":"' + b"0" * 64 + b'","key_id":"', 1)
    assert doubled.count(b'"key_id"') == 2
    assert kid in doubled.decode()
    resign(log.app, 2, log.root, doubled)
    report = log.verify()
    # Not trusted, whichever value a reader would take: alice's key was never registered.
    assert faults_of(report) == {(2, "non-canonical"), *((p, "unknown-key") for p in range(3, 9))}


def test_upper_case_hex_in_a_key_event_is_non_canonical(log):
    state = chain_row(log.app, 2).state
    public = json.loads(state)["public_key"]
    resign(log.app, 2, log.root, state.replace(public.encode(), public.upper().encode()))
    report = log.verify()
    # The registration is not trusted: alice's acts are by a key the log never registered.
    assert faults_of(report) == {(2, "non-canonical"), *((p, "unknown-key") for p in range(3, 9))}


def test_a_payload_written_another_way_is_non_canonical(log):
    state = chain_row(log.app, 4).state
    spaced = state.replace(b",", b", ", 1)  # the same JSON value, not its canonical bytes
    resign(log.app, 4, log.alice, spaced)
    report = log.verify()
    assert faults_of(report) == {(4, "non-canonical")}


WRONG_TYPES = {  # column -> a value of the wrong type an insider can write on SQLite
    "signature": "not bytes",
    "chain_hash": "not bytes either",
    "state": "{\"text\": \"not a blob\"}",
    "originator_version": 2.5,
    "key_id": b"\x00 a blob",
}


@pytest.mark.parametrize("column", sorted(WRONG_TYPES))
def test_a_wrong_typed_column_is_a_malformed_row_not_a_crash(log, backend_url, tmp_path, column):
    value = WRONG_TYPES[column]
    try:
        if column in ("state", "originator_version"):
            nid = chain_row(log.app, 5).notification_id
            log.app.recorder.execute(f"UPDATE {{events}} SET {column} = ? WHERE {{nid}} = ?", (value, nid))
        else:
            set_chain_column(log.app, 5, column, value)
    except Exception as e:  # noqa: BLE001 - PostgreSQL's typed columns refuse the edit
        assert not embedded(log.app), f"SQLite refused {column} = {value!r}: {e}"
        assert log.verify().ok  # refused by the schema: nothing changed
        return
    report = log.verify()
    assert not report.ok
    assert {p for p, _ in faults_of(report)} <= {5, 6}, report.faults
    out = _cli_verify(backend_url, tmp_path)
    assert out.returncode == 1, out.stderr
    assert faults_of(report) == {(f["position"], f["kind"]) for f in json.loads(out.stdout)["faults"]}
    if embedded(log.app):  # SQLite keeps the value as written: a row that cannot be checked
        assert (5, "malformed-row") in faults_of(report)
    # (PostgreSQL converts text written to a bytea column into its bytes: then it is a
    # signature, hash or payload that does not verify, reported as such.)


def test_verify_says_it_could_not_run_with_exit_status_2(tmp_path):
    out = subprocess.run([PMO_LEDGER, "verify", "--json", "--db", f"sqlite:///{tmp_path / 'none.db'}"],
                         capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 2
    assert json.loads(out.stdout)["error"]["code"] == "not-initialised"


def test_jsonl_streams_one_fault_per_line(log, backend_url, tmp_path):
    flip_payload_byte(log.app, 4, b'"1.50"', b'"9.50"')
    flip_signature_byte(log.app, 7)
    out = subprocess.run([PMO_LEDGER, "verify", "--jsonl", "--db", backend_url], capture_output=True,
                         text=True, cwd=tmp_path, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "PMO_LEDGER_PASSPHRASE": PASSPHRASE})
    assert out.returncode == 1, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    faults, summary = lines[:-1], lines[-1]
    assert [(f["position"], f["kind"]) for f in faults] == [
        (4, "bad-signature"), (4, "chain-break"), (7, "bad-signature"), (7, "chain-break")]
    assert summary["ok"] is False and summary["fault_count"] == 4 and "faults" not in summary
