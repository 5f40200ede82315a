"""Charter, amendments and the baseline (free before G1, change requests after)."""

from datetime import date
from decimal import Decimal

import pytest

from domain.errors import (
    BaselineLockedError,
    DuplicateError,
    InvalidStateError,
    NotAuthorisedError,
    NotFoundError,
    ValidationError,
    WouldOverdrawError,
)
from domain.project import project_id
from tests.domain.helpers import CODE, refused


def test_charter(world):
    app = world.app
    world.charter()
    p = app.project(CODE)
    assert p.id == project_id(CODE) == project_id("it-2026-014")
    assert p.charter["start_date"] == date(2025, 1, 1) and p.currency == "USD"
    assert p.next_gate == "G0" and not p.closed and not p.baseline_locked
    first = list(app.events.get(p.id))[0]
    assert (first.actor_id, first.actor_name, first.meaning) == ("pm", "Pat Manager", "authorship")
    assert [x.code for x in app.projects()] == [CODE]


def test_charter_refusals(world):
    app = world.app
    world.charter()
    refused(app, DuplicateError, world.charter)
    refused(app, ValidationError, world.charter, "not a code")
    refused(app, ValidationError, world.charter, "IT-2026-015", funding_type="grant")
    refused(app, ValidationError, world.charter, "IT-2026-015", objectives=[])
    refused(app, ValidationError, world.charter, "IT-2026-015", target_finish=date(2024, 1, 1))
    refused(app, ValidationError, world.charter, "IT-2026-015", currency="dollars")
    refused(app, ValidationError, world.charter, "IT-2026-015", title="  ")
    refused(app, NotAuthorisedError, app.charter_project, world.fiscal, code="IT-2026-016", title="t",
            sponsor="s", project_manager="p", business_relationship_manager="b", objectives=["o"],
            scope_statement="s", start_date=date(2025, 1, 1), target_finish=date(2025, 2, 1),
            fund="f", cost_centre="c", funding_type="capital")
    refused(app, NotFoundError, app.amend_charter, world.pm, "IT-2099-001", {"title": "x"}, reason="r")


def test_amendment_records_old_and_new_values_with_reason(world):
    app = world.app
    world.charter()
    app.amend_charter(world.pm, CODE, {"target_finish": "2026-09-30", "title": "Permits 2.0"},
                      reason="council extended the scope")
    p = app.project(CODE)
    assert p.charter["target_finish"] == date(2026, 9, 30) and p.charter["title"] == "Permits 2.0"
    event = list(app.events.get(p.id))[-1]
    assert event.previous == {"target_finish": date(2026, 6, 30), "title": "Online permits portal"}
    assert event.reason == "council extended the scope"
    refused(app, ValidationError, app.amend_charter, world.pm, CODE, {"title": "x"}, reason=" ")
    refused(app, ValidationError, app.amend_charter, world.pm, CODE, {"code": "X-1"}, reason="r")
    refused(app, ValidationError, app.amend_charter, world.pm, CODE, {"title": "Permits 2.0"}, reason="r")
    refused(app, ValidationError, app.amend_charter, world.pm, CODE,
            {"target_finish": date(2020, 1, 1)}, reason="r")


def test_baseline_edits_before_g1(world):
    app, pm = world.app, world.pm
    world.baseline()
    app.add_deliverable(pm, CODE, deliverable="D-01", name="Portal")
    app.revise_budget_line(pm, CODE, "HW-01", amount="60000.00", name="Servers and storage")
    app.revise_milestone(pm, CODE, "M-01", planned_finish=date(2025, 7, 31), budgeted_value="90000")
    app.add_budget_line(pm, CODE, line="TR-01", name="Training", category="training", amount="0")
    app.remove_budget_line(pm, CODE, "TR-01", reason="folded into vendor contract")
    app.add_milestone(pm, CODE, milestone="M-09", name="Spare", planned_start=date(2025, 1, 1),
                      planned_finish=date(2025, 1, 1), budgeted_value="0")
    app.remove_milestone(pm, CODE, "M-09", reason="not needed")
    app.remove_deliverable(pm, CODE, "D-01", reason="merged")
    p = app.project(CODE)
    hw = p.lines["HW-01"]
    assert (hw["original"], hw["budget"], hw["name"]) == (Decimal("60000.00"), Decimal("60000.00"),
                                                          "Servers and storage")
    assert p.milestones["M-01"]["planned_finish"] == date(2025, 7, 31)
    assert set(p.lines) == {"HW-01", "LB-01"} and set(p.milestones) == {"M-01", "M-02"}
    assert p.deliverables == {}


def test_baseline_edit_refusals(world):
    app, pm = world.app, world.pm
    world.baseline()
    refused(app, DuplicateError, app.add_budget_line, pm, CODE, line="HW-01", name="x",
            category="hardware", amount="1")
    refused(app, ValidationError, app.add_budget_line, pm, CODE, line="XX-01", name="x",
            category="furniture", amount="1")
    refused(app, ValidationError, app.add_budget_line, pm, CODE, line="XX-01", name="x",
            category="hardware", amount="-1")
    refused(app, ValidationError, app.add_budget_line, pm, CODE, line="XX-01", name="x",
            category="hardware", amount=1.5)
    refused(app, NotFoundError, app.revise_budget_line, pm, CODE, "ZZ", amount="1")
    refused(app, ValidationError, app.revise_budget_line, pm, CODE, "HW-01", amount="50000")
    refused(app, ValidationError, app.add_milestone, pm, CODE, milestone="M-03", name="x",
            planned_start=date(2025, 2, 1), planned_finish=date(2025, 1, 1), budgeted_value="1")
    refused(app, ValidationError, app.revise_milestone, pm, CODE, "M-01",
            planned_start=date(2025, 8, 1))
    refused(app, DuplicateError, app.add_milestone, pm, CODE, milestone="M-01", name="x",
            planned_start=date(2025, 1, 1), planned_finish=date(2025, 1, 2), budgeted_value="1")
    refused(app, NotFoundError, app.remove_deliverable, pm, CODE, "D-99", reason="x")


def test_line_with_history_cannot_be_removed_or_cut_below_use(world):
    app, pm = world.app, world.pm
    world.baseline()
    e = world.expenditure("40000.00")
    app.approve_expenditure(world.fiscal, CODE, e)
    app.approve_expenditure(world.fiscal2, CODE, e)  # over 25,000: two officers
    refused(app, InvalidStateError, app.remove_budget_line, pm, CODE, "HW-01", reason="x")
    err = refused(app, WouldOverdrawError, app.revise_budget_line, pm, CODE, "HW-01", amount="30000")
    assert str(err) == "this reduction would overdraw line HW-01 by 10,000.00; available 10,000.00"
    app.revise_budget_line(pm, CODE, "HW-01", amount="40000")
    app.report_progress(pm, CODE, "M-01", percent=10, as_of=date(2025, 2, 1))
    refused(app, InvalidStateError, app.remove_milestone, pm, CODE, "M-01", reason="x")


@pytest.mark.parametrize("edit", [
    lambda w: w.app.add_budget_line(w.pm, CODE, line="SW-01", name="x", category="software", amount="1"),
    lambda w: w.app.revise_budget_line(w.pm, CODE, "HW-01", amount="1"),
    lambda w: w.app.remove_budget_line(w.pm, CODE, "HW-01", reason="x"),
    lambda w: w.app.add_milestone(w.pm, CODE, milestone="M-03", name="x", planned_start=date(2025, 1, 1),
                                  planned_finish=date(2025, 1, 2), budgeted_value="1"),
    lambda w: w.app.revise_milestone(w.pm, CODE, "M-01", name="Renamed"),
    lambda w: w.app.remove_milestone(w.pm, CODE, "M-01", reason="x"),
    lambda w: w.app.add_deliverable(w.pm, CODE, deliverable="D-02", name="x"),
])
def test_baseline_is_locked_after_g1(world, edit):
    world.locked()
    refused(world.app, BaselineLockedError, edit, world, match="submit a change request")
