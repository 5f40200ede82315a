"""A project as it stood at a log position or a UTC instant."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.errors import NotFoundError, ValidationError
from tests.domain.helpers import CODE, World
from tests.readmodels.support import models_for
from tools.bench.readmodels import seed_big_project

D = Decimal


def test_as_of_a_position_and_an_instant(world: World) -> None:
    code = world.baseline()
    app = world.app
    e = world.expenditure("2500.00")
    before_approval = app.size()
    between = datetime.now(UTC)
    app.approve_expenditure(world.fiscal, code, e)
    models = models_for(app)

    then = models.replay(code, position=before_approval)
    assert then.project.expenditures[e]["status"] == "pending"
    assert then.summary.facts.spent == D("0.00") and then.summary.facts.pending == D("2500.00")
    assert then.position == before_approval and then.project_position == before_approval
    assert then.summary.earned_value.as_of == then.recorded_at.date()

    assert models.replay(code, instant=between).project.version == then.project.version
    now = models.replay(code, position=app.size())
    assert now.project.expenditures[e]["status"] == "approved"
    assert now.project == app.project(code)


def test_before_the_project_or_outside_the_log_is_refused(world: World) -> None:
    world.baseline()
    models = models_for(world.app)
    with pytest.raises(NotFoundError, match="did not exist"):
        models.replay(CODE, position=3)
    with pytest.raises(ValidationError, match="not in the log"):
        models.replay(CODE, position=world.app.size() + 1)
    with pytest.raises(ValidationError, match="nothing recorded"):
        models.replay(CODE, instant=datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError):
        models.replay(CODE, position=5, instant=datetime.now(UTC))


def test_a_project_with_10000_events_replays_well_under_a_second(world: World) -> None:
    world.charter()  # (the big project is a second one)
    seed_big_project(world.app, world.pm, world.fiscal, "BIG-1", 10_000)
    models = models_for(world.app)
    facts = models.facts("BIG-1")[0]
    assert facts.version >= 10_000
    worst = 0.0
    for position in (facts.position - 4_321, facts.position):
        started = time.perf_counter()
        then = models.replay("BIG-1", position=position)
        worst = max(worst, time.perf_counter() - started)
        assert then.project.version <= facts.version
    started = time.perf_counter()
    models.replay("BIG-1", instant=then.recorded_at - timedelta(microseconds=1))
    worst = max(worst, time.perf_counter() - started)
    assert worst < 0.5, f"as-of replay took {worst:.3f}s"
