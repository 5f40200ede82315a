"""Concurrency: 4 processes appending at once, to one shared aggregate and to their own ones.

No acknowledged event is lost, nothing unacknowledged is written, the chain does not fork,
version conflicts surface only as VersionConflictError (and the callers' retries succeed),
and `verify` is clean afterwards. On both backends.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from ledger.application import open_ledger
from ledger.errors import VersionConflictError
from ledger.keys import PASSPHRASE_ENV
from ledger.verify import DatabaseSource, verify_log
from tests.support import PASSPHRASE, Counter, count_events, identities

WORKERS = 4
SAVES = 12  # per worker


def _worker(idx: int, url: str, kid: str, shared: str | None, barrier: Any, results: Any) -> None:
    """Append SAVES times; report every acknowledged (id, version, amount) and any error."""
    acked: list[tuple[str, int, str]] = []
    conflicts = 0
    try:
        os.environ[PASSPHRASE_ENV] = PASSPHRASE
        app = open_ledger(url)
        signer = app.signer_for(kid, PASSPHRASE)
        if shared is None:
            own = Counter(f"worker {idx}")
            for rec in app.save(own, signer=signer):
                acked.append((str(rec.domain_event.originator_id), rec.domain_event.originator_version, "0"))
            target = own.id
        else:
            target = UUID(shared)
        # Everyone loads the same version before the barrier, so the first round of saves
        # on the shared aggregate must conflict for all workers but one.
        agg = app.repository.get(target)
        barrier.wait(timeout=60)
        for i in range(SAVES):
            while True:
                amount = Decimal(idx + 1) / 100
                agg.increment(amount, f"w{idx} s{i}")
                if i % 4 == 3:  # some saves carry two events
                    agg.increment(amount, f"w{idx} s{i} b")
                try:
                    recordings = app.save(agg, signer=signer)
                except VersionConflictError:
                    conflicts += 1
                    agg = app.repository.get(target)  # reload and retry
                    continue
                for rec in recordings:
                    e = rec.domain_event
                    acked.append((str(e.originator_id), e.originator_version, str(e.amount)))
                break
        app.close()
        results.put((idx, acked, conflicts, None))
    except BaseException:  # noqa: BLE001 - report anything else as a failure
        results.put((idx, acked, conflicts, traceback.format_exc()))


def _run_workers(url: str, kid: str, shared: str | None) -> list[tuple]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(i, url, kid, shared, barrier, results)) for i in range(WORKERS)]
    for p in procs:
        p.start()
    out = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    return out


@pytest.mark.parametrize("target", ["same", "different"])
def test_four_processes_appending(ledger, alice, target):
    app, _ = ledger
    shared = None
    if target == "same":
        c = Counter("shared")
        app.save(c, signer=alice)
        shared = str(c.id)
    before = identities(app)

    results = _run_workers(app.backend.url, alice.key_id, shared)

    errors = [err for *_, err in results if err]
    assert not errors, "\n".join(errors)  # nothing but VersionConflictError was raised
    acked = [a for _, acks, _, _ in results for a in acks]
    conflicts = sum(c for _, _, c, _ in results)
    after = identities(app)

    # Every acknowledged event is there, and nothing else was written.
    assert len(acked) == len(set(acked))
    assert {(oid, v) for oid, v, _ in acked} == {(oid, v) for _, oid, v in after[len(before):]}
    assert after[:len(before)] == before
    # One chain, no fork: positions 1..N, each stored event at exactly one position.
    assert [p for p, _, _ in after] == list(range(1, len(after) + 1))
    assert count_events(app) == len(after)
    report = verify_log(DatabaseSource(app))
    assert report.ok, report.faults
    assert report.events == len(after)

    if target == "same":
        assert conflicts >= WORKERS - 1  # the synchronised first round
        versions = [v for _, oid, v in after if oid == shared]
        assert versions == list(range(1, len(versions) + 1))
        final = app.repository.get(UUID(shared))
        assert final.version == len(versions) == 1 + len(acked)
        assert final.total == sum(Decimal(amount) for _, _, amount in acked)
    else:
        assert conflicts == 0  # distinct aggregates never conflict
        for _, acks, _, _ in results:
            (oid,) = {oid for oid, _, _ in acks}
            assert [v for _, o, v in after if o == oid] == list(range(1, len(acks) + 1))
