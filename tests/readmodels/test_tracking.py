"""Tracking: resume where stopped, never count a position twice, survive failures and
lost races, follow the log as it grows -- on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import date
from typing import Any

import pytest

from domain.readmodels.projection import LedgerProjection
from domain.readmodels.store import LostRaceError, ReadModelError
from domain.services import PMOApplication
from ledger.application import open_ledger
from tests.domain.helpers import PW, World
from tests.readmodels.support import FakeEvaluator, counts, dump, models_for
from tests.readmodels.test_property import start_project

CODE = "IT-2026-014"


def history(w: World, code: str = CODE) -> None:
    """A project with approvals, a queue, progress and a reversal."""
    start_project(w, code)
    app = w.app
    for n, amount in enumerate(("1200.00", "30000.00", "800.00")):
        e = app.submit_expenditure(w.pm, code, line="HW-01", amount=amount, vendor="Acme",
                                   invoice_number=f"INV-{n}", invoice_date=date(2025, 2, 1),
                                   description="kit")
        app.approve_expenditure(w.fiscal, code, e)
    app.reverse_expenditure(w.fiscal, code, "EXP-0001", reason="duplicate")
    app.report_progress(w.pm, code, "M-01", percent=40, as_of=date(2025, 2, 1))
    app.request_gate_review(w.pm, code, "G0", artifacts=[{"name": "charter.pdf"}])


def rebuilt(app: Any) -> dict:
    fresh = models_for(app, evaluator=FakeEvaluator)
    fresh.rebuild()
    return dump(fresh)


def test_resume_after_stop_without_double_counting(any_world: World) -> None:
    history(any_world)
    first = models_for(any_world.app, evaluator=FakeEvaluator, batch=5)
    assert first.catch_up(limit=17) == 17
    assert first.position() == 17
    second_app = open_ledger(any_world.url, app_class=PMOApplication)
    try:
        second = models_for(second_app, evaluator=FakeEvaluator, batch=5)
        size = any_world.app.size()
        assert second.catch_up() == size - 17  # resumes at 18, not at 1
        assert second.catch_up() == 0
        assert counts(second)["events"] == size
        second.catch_up_compliance()
        assert dump(second) == rebuilt(any_world.app)
    finally:
        second_app.close()


def test_a_failed_batch_writes_nothing_and_is_done_again(any_world: World,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    history(any_world)
    models = models_for(any_world.app, evaluator=FakeEvaluator, batch=10)
    models.catch_up(limit=10)
    before = dump(models)
    original = LedgerProjection.write

    def write_then_crash(self: LedgerProjection, w: Any, batch: Any) -> None:
        original(self, w, batch)  # the rows are in the transaction...
        raise RuntimeError("power cut")  # ...which never commits

    monkeypatch.setattr(LedgerProjection, "write", write_then_crash)
    with pytest.raises(RuntimeError, match="power cut"):
        models.catch_up()
    assert dump(models) == before
    monkeypatch.setattr(LedgerProjection, "write", original)
    models.catch_up()
    models.catch_up_compliance()
    assert dump(models) == rebuilt(any_world.app)


def test_a_process_that_lost_the_race_writes_nothing(any_world: World) -> None:
    history(any_world)
    other_app = open_ledger(any_world.url, app_class=PMOApplication)
    try:
        loser = models_for(any_world.app, evaluator=FakeEvaluator, batch=1000)
        winner = models_for(other_app, evaluator=FakeEvaluator, batch=1000)
        loser.store.ensure_tables()
        process = loser.ledger.projection.process

        def slow_process(*args: Any) -> Any:
            rows = process(*args)
            winner.catch_up()  # commits first, while the loser has not written yet
            return rows

        loser.ledger.projection.process = slow_process  # type: ignore[method-assign]
        assert loser.catch_up() == 0  # its batch was refused, and nothing was left
        assert counts(loser)["events"] == any_world.app.size()
        loser.catch_up_compliance()
        assert dump(loser) == rebuilt(any_world.app)
    finally:
        other_app.close()


def test_the_claim_refuses_a_moved_position_and_tracking_never_goes_back(any_world: World) -> None:
    history(any_world)
    models = models_for(any_world.app, evaluator=FakeEvaluator)
    models.catch_up()
    name, at = models.ledger.name, models.store.tracked(models.ledger.name)
    with pytest.raises(LostRaceError), models.store.writing(name) as w:
        w.claim(name, at - 1)
    with pytest.raises(ReadModelError), models.store.writing(name) as w:
        w.advance(name, at)  # the store's own guard: not beyond the stored position
    assert models.store.tracked(name) == at


def test_follow_keeps_up_with_new_events(any_world: World) -> None:
    history(any_world)
    models = models_for(any_world.app, evaluator=FakeEvaluator)
    stop = threading.Event()
    follower = threading.Thread(target=models.follow, args=(stop, 0.05), daemon=True)
    follower.start()
    try:
        _wait_for(lambda: models.store.tracked(models.ledger.name) > 0)
        any_world.app.raise_risk(any_world.pm, CODE, title="Vendor late", probability=3,
                                 impact=4, owner="pm", mitigation="escalate")
        size = any_world.app.size()
        _wait_for(lambda: models.ledger.position_of(models.store.tracked(models.ledger.name)) == size)
    finally:
        stop.set()
        follower.join(timeout=10)
    assert not follower.is_alive()
    assert [e.event for e in models.audit_trail(CODE, "risks")][-1] == "RiskRaised"


def test_processes_taking_turns_fold_each_others_positions_into_their_caches(
        any_world: World) -> None:
    """Two server workers take turns catching up: each finds the other has moved the
    projection and folds the positions in between into its caches (a policy change and a
    key re-issue among them) instead of reloading every project and the key history --
    and the tables still equal a rebuild."""
    w = any_world
    history(w)
    other_app = open_ledger(w.url, app_class=PMOApplication)
    try:
        first = models_for(w.app, evaluator=FakeEvaluator)
        second = models_for(other_app, evaluator=FakeEvaluator)
        first.catch_up()
        reloads = []
        real_reset = LedgerProjection.reset

        def counting_reset(self: LedgerProjection, *, hard: bool = False) -> None:
            reloads.append(self)
            real_reset(self, hard=hard)

        LedgerProjection.reset = counting_reset  # type: ignore[method-assign]
        try:
            steps = [
                lambda: w.app.raise_risk(w.pm, CODE, title="Late", probability=3, impact=4,
                                         owner="pm", mitigation="chase"),
                lambda: w.app.change_policy(w.pmo, {"dual_fiscal_threshold": 500},
                                            reason="tighter"),
                lambda: w.app.reissue_key(w.admin, "fiscal", passphrase=PW, reason="new laptop"),
                lambda: w.app.approve_expenditure(
                    w.app.actor("fiscal", PW), CODE,
                    w.app.submit_expenditure(w.pm, CODE, line="HW-01", amount="700.00",
                                             vendor="Acme", invoice_number="INV-9",
                                             invoice_date=date(2025, 2, 2), description="kit")),
                lambda: w.app.raise_risk(w.pm, CODE, title="Later", probability=2, impact=2,
                                         owner="pm", mitigation="wait"),
            ]
            for turn, step in enumerate(steps):
                step()
                assert (second if turn % 2 == 0 else first).catch_up() > 0
        finally:
            LedgerProjection.reset = real_reset  # type: ignore[method-assign]
        assert reloads == [second.ledger.projection]  # only its first catch-up started cold
        for models in (first, second):
            models.catch_up_compliance()
            assert dump(models) == rebuilt(w.app)
    finally:
        other_app.close()


def test_two_processes_catching_up_at_once_count_every_position_once(any_world: World) -> None:
    from tools.bench.readmodels import seed_big_project

    seed_big_project(any_world.app, any_world.pm, any_world.fiscal, CODE, 300, per_save=60)
    history(any_world, "IT-2026-015")
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(any_world.url, barrier, results, 25))
               for _ in range(2)]
    for p in workers:
        p.start()
    done = [results.get(timeout=120) for _ in workers]
    for p in workers:
        p.join(timeout=60)
    assert all(isinstance(d, tuple) for d in done), done
    size = any_world.app.size()
    assert sum(d[0] for d in done) == size  # every position written by exactly one of them
    assert sum(d[1] for d in done) == size
    models = models_for(any_world.app, evaluator=FakeEvaluator)
    assert counts(models)["events"] == size
    assert dump(models) == rebuilt(any_world.app)


def _worker(url: str, barrier: Any, results: Any, batch: int) -> None:
    from tests.readmodels.workers import catch_up

    catch_up(url, barrier, results, batch)


def _wait_for(condition: Any, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_tampered_log_stops_the_read_models_with_the_position(world: World) -> None:
    from tests.support import set_state

    history(world)
    size = world.app.size()
    set_state(world.app, size - 3, b"not json")  # a project event in the middle
    models = models_for(world.app, evaluator=FakeEvaluator)
    with pytest.raises(ReadModelError, match="run `pmo-ledger verify`"):
        models.catch_up()
    rows = models.store.fetch("SELECT event FROM {events} WHERE position = ?", (size - 3,))
    assert rows == []  # the failing batch wrote nothing either


def test_the_sqlite_reader_gives_the_ledgers_own_rows(tmp_path) -> None:
    """The read models' lean SQLite reader and the ledger's read_chain agree field by
    field, a row whose originator id was nulled by tampering included."""
    import sqlite3

    from ledger.application import init_ledger
    from ledger.keys import Signer
    from tests.domain.helpers import PW

    url = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    app, root = init_ledger(url, PW)
    try:
        for who in ("a", "b"):
            app.register_key(Signer.generate(who).public_bytes, who, by=root, actor_id="ledger-root",
                             actor_name=who, reason="test")
        with sqlite3.connect(tmp_path / "l.sqlite3") as c:
            c.execute("UPDATE stored_events SET originator_id = NULL WHERE rowid = 2")
        size = app.size()
        lean = app.read_entries(1, size)
        full = app.read_chain(1, size)
        assert len(lean) == len(full) == size >= 3
        for a, b in zip(lean, full, strict=True):
            assert tuple(a) == (b.position, b.notification_id, b.originator_id, b.originator_version,
                                b.key_id, b.event_originator_id, b.event_originator_version,
                                b.topic, b.state)
        assert lean[1].event_originator_id is None
    finally:
        app.close()
