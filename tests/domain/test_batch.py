"""`PMOApplication.batch`: several commands of one person on one project, one load, one save.
The unit of work is explicit: `work(unit)` passes it to each command (`unit=unit`)."""

from datetime import date

import pytest

from domain.errors import NotAuthorisedError, SegregationOfDutiesError, WouldOverdrawError
from domain.services import PMOApplication
from ledger.application import open_ledger
from tests.domain.helpers import CODE, PW, refused


@pytest.fixture
def saves(world):
    """The saves the application makes: (aggregate types, signer's key id)."""
    made = []
    real = world.app.save

    def counting(*objs, **kw):
        made.append(([type(o).__name__ for o in objs], kw["signer"].key_id))
        return real(*objs, **kw)

    world.app.save = counting
    yield made
    world.app.save = real


def test_several_commands_are_saved_once_signed_by_the_actor(world, saves):
    app, pm = world.app, world.pm
    world.baseline()
    saves.clear()
    before = app.size()

    def work(unit):
        project = unit.current
        first = app.submit_expenditure(pm, CODE, line="HW-01", amount="100.00", vendor="Dell",
                                       invoice_number="A-1", invoice_date=date(2025, 3, 1),
                                       description="servers", unit=unit)
        # The batch sees its own writes: the second invoice gets the next number, and the
        # duplicate-invoice rule applies to the first.
        assert unit.project(CODE) is project and first in project.expenditures
        second = unit.submit_expenditure(pm, CODE, line="HW-01", amount="50.00", vendor="Dell",
                                         invoice_number="A-2", invoice_date=date(2025, 3, 2),
                                         description="cables")
        risk = app.raise_risk(pm, CODE, title="Supply", probability=2, impact=3, owner="o",
                              mitigation="m", unit=unit)
        return first, second, risk

    receipts = []
    assert app.batch(pm, CODE, work, receipts=receipts) == ("EXP-0001", "EXP-0002", "R-001")
    assert saves == [(["Project"], pm.signer.key_id)]
    rows = app.read_chain(before + 1, app.size())
    assert len(rows) == 3 and {r.key_id for r in rows} == {pm.signer.key_id}
    assert [r.position for r in receipts] == [r.position for r in rows]
    p = app.project(CODE)
    assert set(p.expenditures) == {"EXP-0001", "EXP-0002"} and p.lines["HW-01"]["pending"] == 150


def test_every_rule_applies_inside_and_a_refusal_writes_nothing(world):
    app, fiscal = world.app, world.fiscal
    world.baseline()
    small, big = world.expenditure("1000.00", invoice="I-1"), world.expenditure("60000.00", invoice="I-2")

    def approve_both(unit):
        unit.approve_expenditure(fiscal, CODE, small)
        unit.approve_expenditure(fiscal, CODE, big)  # overdraws HW-01 (50,000)

    refused(app, WouldOverdrawError, app.batch, fiscal, CODE, approve_both)
    assert app.project(CODE).expenditure(small)["status"] == "pending"  # the first is not kept
    dual = world.expenditure("30000.00", line="LB-01", invoice="I-3")  # needs two officers
    refused(app, SegregationOfDutiesError, app.batch, fiscal, CODE, lambda u: [
        u.approve_expenditure(fiscal, CODE, dual), u.approve_expenditure(fiscal, CODE, dual)])
    refused(app, NotAuthorisedError, app.batch, world.pm, CODE,
            lambda u: u.approve_expenditure(world.pm, CODE, small))

    def caught(unit):
        unit.approve_expenditure(fiscal, CODE, small)
        with pytest.raises(WouldOverdrawError):
            unit.approve_expenditure(fiscal, CODE, big)  # refused, and changes nothing

    app.batch(fiscal, CODE, caught)
    p = app.project(CODE)
    assert p.expenditure(small)["status"] == "approved" and p.expenditure(big)["status"] == "pending"


def test_only_the_actors_commands_on_the_project(world):
    app, pm = world.app, world.pm
    world.baseline()
    world.charter("IT-2026-015")
    for work in (
        lambda u: u.raise_risk(world.pm2, CODE, title="t", probability=1, impact=1, owner="o", mitigation="m"),
        lambda u: u.raise_risk(pm, "IT-2026-015", title="t", probability=1, impact=1, owner="o", mitigation="m"),
        lambda u: u.change_policy(world.pmo, {"pending_days_limit": 3}, reason="r"),
        lambda u: u.charter_project(pm, code="IT-2026-016", title="t", sponsor="s", project_manager="pm",
                                    business_relationship_manager="b", objectives=["o"],
                                    scope_statement="s", start_date=date(2025, 1, 1),
                                    target_finish=date(2025, 12, 31), fund="f", cost_centre="c",
                                    funding_type="operating"),
    ):
        before = app.size()
        with pytest.raises(RuntimeError):
            app.batch(pm, CODE, lambda u, work=work: [
                u.raise_risk(pm, CODE, title="mine", probability=1, impact=1, owner="o", mitigation="m"),
                work(u)])
        assert app.size() == before
    assert app.project(CODE).risks == {}
    assert app.policy().rules().pending_days_limit == 14  # the refused policy change left no trace
    assert app.directory().roles_of("pmo") == ["pmo"]


def test_a_batch_may_charter_the_project_it_works_on(world):
    app, pm = world.app, world.pm
    code = "IT-2026-099"

    def charter_and_baseline(unit):
        assert unit.current is None
        unit.charter_project(pm, code=code, title="New", sponsor="sponsor", project_manager="pm",
                            business_relationship_manager="b", objectives=["o"], scope_statement="s",
                            start_date=date(2025, 1, 1), target_finish=date(2025, 12, 31),
                            fund="f", cost_centre="c", funding_type="operating")
        unit.add_budget_line(pm, code, line="LB-01", name="Team", category="labour", amount="1000.00")

    app.batch(pm, code, charter_and_baseline)
    assert app.project(code).version == 2 and app.project(code).lines["LB-01"]["budget"] == 1000


def test_a_conflict_runs_the_whole_batch_again(world):
    app, pm = world.app, world.pm
    world.baseline()
    other = open_ledger(world.url, app_class=PMOApplication)
    runs = []

    def work(unit):
        runs.append(1)
        first = unit.raise_risk(pm, CODE, title="Mine A", probability=1, impact=1, owner="o", mitigation="m")
        if len(runs) == 1:  # someone else writes while this batch is under way
            other.raise_risk(other.actor("pm2", PW), CODE, title="Theirs", probability=1,
                             impact=1, owner="o", mitigation="m")
        second = unit.raise_risk(pm, CODE, title="Mine B", probability=1, impact=1, owner="o", mitigation="m")
        return first, second

    try:
        assert app.batch(pm, CODE, work) == ("R-002", "R-003")
    finally:
        other.close()
    assert len(runs) == 2
    assert [r["title"] for r in app.project(CODE).risks.values()] == ["Theirs", "Mine A", "Mine B"]


def test_warm_aggregates_catch_up_with_changes_made_elsewhere(world):
    app, pm = world.app, world.pm
    world.baseline()
    app.batch(pm, CODE, lambda u: u.raise_risk(pm, CODE, title="A", probability=1, impact=1,
                                               owner="o", mitigation="m"))
    world.elsewhere_pm2_raises_a_risk_and_pm_loses_the_role()
    refused(app, NotAuthorisedError, app.batch, pm, CODE, lambda u: u.raise_risk(
        pm, CODE, title="C", probability=1, impact=1, owner="o", mitigation="m"))
    app.batch(world.pm2, CODE, lambda u: u.raise_risk(
        world.pm2, CODE, title="C", probability=1, impact=1, owner="o", mitigation="m"))
    assert [r["title"] for r in app.project(CODE).risks.values()] == ["A", "B", "C"]
