"""A rebuild judges compliance in a forked child next to the tables: the same rows as in
one process, its progress passed on, and its failure reported -- SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from datetime import datetime
from typing import Any

import pytest

from domain.readmodels import parallel
from domain.readmodels.store import ReadModelError
from tests.domain.helpers import World
from tests.readmodels.support import FakeEvaluator, dump, models_for
from tests.readmodels.test_tracking import history


def test_a_forked_rebuild_writes_what_one_process_writes(any_world: World,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    history(any_world)
    monkeypatch.setattr(parallel, "_cpus", lambda: 2)  # forked even on a one-CPU runner
    said: list[tuple[int, int]] = []
    forked = models_for(any_world.app, evaluator=FakeEvaluator)
    assert forked.rebuilds_in_parallel()
    forked.rebuild(lambda done, total: said.append((done, total)))
    in_child = dump(forked)
    size = any_world.app.size()
    assert in_child["tracking"][0][0] > 0 and in_child["findings"]
    assert said[-1] == (size, size) and said.count((size, size)) == 2  # tables, then findings
    assert forked.findings() != []  # the parent reads (and re-feeds) what the child wrote

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    alone = models_for(any_world.app, evaluator=FakeEvaluator)
    alone.rebuild()
    assert dump(alone) == in_child
    monkeypatch.undo()
    monkeypatch.setattr(parallel, "_cpus", lambda: 1)
    one_core = models_for(any_world.app, evaluator=FakeEvaluator)
    assert not one_core.rebuilds_in_parallel()
    one_core.rebuild()
    assert dump(one_core) == in_child


def test_the_findings_judged_again_leave_the_tables_as_they_stand(any_world: World) -> None:
    """`rebuild_compliance` (the bench's "findings alone") re-judges from position 1."""
    history(any_world)
    models = models_for(any_world.app, evaluator=FakeEvaluator)
    models.rebuild()
    before = dump(models)
    assert before["findings"] and before["tracking"][0][1] > 0
    with models.store.writing(models.compliance.name) as w:
        w.run("DELETE FROM {findings}")  # lost behind the tracking row's back
    assert dump(models)["findings"] == []
    models.catch_up_compliance()
    assert dump(models)["findings"] == []  # nothing new to judge: a catch-up writes nothing
    assert models.rebuild_compliance() == any_world.app.size()
    assert dump(models) == before


class BrokenEvaluator(FakeEvaluator):
    def apply(self, position: int, recorded_at: datetime, event: Any) -> None:
        raise RuntimeError("rules engine broke")


def test_a_failure_in_the_child_is_raised_in_the_parent(any_world: World,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    history(any_world)
    monkeypatch.setattr(parallel, "_cpus", lambda: 2)
    models = models_for(any_world.app, evaluator=BrokenEvaluator)
    with pytest.raises(ReadModelError, match="rules engine broke"):
        models.rebuild()
    after = dump(models)
    assert after["tracking"][0][0] > 0  # the tables were rebuilt meanwhile
    assert after["findings"] == [] and after["tracking"][0][1] == 0  # no findings half-written


def test_a_child_that_dies_without_a_word_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_cpus", lambda: 2)

    def die(say: Any) -> None:
        import os

        os._exit(3)

    with pytest.raises(ReadModelError, match="ended without a result"):
        parallel.start(die).result()


def _ready_then_count(say: Any) -> int:
    say(1, 3)
    say.ready()
    say(3, 3)
    return 42


@pytest.mark.parametrize("cpus", [2, 1])
def test_ready_waits_for_the_first_step_and_keeps_the_progress(cpus: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_cpus", lambda: cpus)  # 1: run here, at `ready`
    said: list[tuple[int, int]] = []
    child = parallel.start(_ready_then_count)
    child.ready()
    child.ready()  # once is enough: a second call does not wait for another step
    assert child.result(lambda done, total: said.append((done, total))) == 42
    assert said == [(1, 3), (3, 3)]


def test_ready_returns_when_the_child_dies_first_and_result_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_cpus", lambda: 2)

    def die(say: Any) -> None:
        import os

        os._exit(3)

    child = parallel.start(die)
    child.ready()
    with pytest.raises(ReadModelError, match="ended without a result"):
        child.result()


# The kept helper (parallel.py): work that pickles goes to one process forked once ----------


def _pid(say: Any) -> int:
    import os

    return os.getpid()


def _fail(say: Any) -> None:
    raise RuntimeError("this piece of work failed")


def _die(say: Any) -> None:
    import os

    os._exit(3)


def test_work_that_pickles_goes_to_one_kept_helper_and_a_closure_is_forked_for_itself(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(parallel, "_cpus", lambda: 2)
    helper = parallel.start(_pid).result()
    assert helper != os.getpid()
    assert parallel.start(_pid).result() == helper  # not forked again
    closures = {parallel.start(lambda say: os.getpid()).result() for _ in range(2)}
    assert len(closures) == 2 and helper not in closures and os.getpid() not in closures


def test_a_failure_is_raised_and_the_helper_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_cpus", lambda: 2)
    helper = parallel.start(_pid).result()
    with pytest.raises(ReadModelError, match="this piece of work failed"):
        parallel.start(_fail).result()
    assert parallel.start(_pid).result() == helper


def test_a_helper_that_dies_is_replaced_by_the_next_piece_of_work(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_cpus", lambda: 2)
    helper = parallel.start(_pid).result()
    with pytest.raises(ReadModelError, match="ended without a result"):
        parallel.start(_die).result()
    replacement = parallel.start(_pid).result()
    assert replacement != helper
    child = parallel.start(_die)
    child.ready()  # its death seen while waiting for the first step
    with pytest.raises(ReadModelError, match="ended without a result"):
        child.result()
    assert parallel.start(_pid).result() not in (helper, replacement)


def test_a_busy_helper_leaves_the_next_piece_of_work_to_a_fork_of_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_cpus", lambda: 2)
    helper = parallel.start(_pid).result()
    busy = parallel.start(_ready_then_count)
    busy.ready()
    assert parallel.start(_pid).result() != helper  # meanwhile: forked for itself
    assert busy.result() == 42
    assert parallel.start(_pid).result() == helper  # free again


def test_a_forked_process_does_not_use_its_parents_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_cpus", lambda: 2)
    parallel.start(_pid).result()
    assert parallel._Helper._kept is not None
    assert parallel.start(lambda say: parallel._Helper._kept is None).result() is True


class _Thing:
    pass


def _keep_twice(say: Any) -> bool:
    import weakref

    first, second = _Thing(), _Thing()
    was_first = weakref.ref(first)
    parallel.keep_until_replied("slot", first)
    del first
    assert was_first() is not None  # kept
    parallel.keep_until_replied("slot", second)
    return was_first() is None and parallel._after_reply["slot"] == (second,)


def _kept_slots(say: Any) -> list[str]:
    return sorted(parallel._after_reply)


def test_a_child_keeps_only_the_last_of_a_slot_and_frees_it_after_replying(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_cpus", lambda: 2)
    assert parallel.start(_keep_twice).result() is True  # the first freed when replaced
    assert parallel.start(_kept_slots).result() == []  # the helper freed it after replying
    parallel.keep_until_replied("slot", _Thing())
    assert parallel._after_reply == {}  # not a child: nothing kept


def test_end_helper_ends_it_and_the_next_piece_of_work_forks_another(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_cpus", lambda: 2)
    first = parallel.start(_pid).result()
    kept = parallel._Helper._kept
    assert kept is not None
    parallel.end_helper()
    assert not kept.process.is_alive() and parallel._Helper._kept is None
    assert parallel.start(_pid).result() != first
