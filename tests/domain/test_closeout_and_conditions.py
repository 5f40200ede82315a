"""Closeout leaves nothing stuck; conditions of a passed gate are recorded as met."""

import pytest

from domain.errors import (
    InvalidStateError,
    NotAuthorisedError,
    OpenItemsError,
    SegregationOfDutiesError,
    ValidationError,
)
from domain.project import Project
from tests.domain.helpers import CODE, refused


def request_g4(world):
    world.app.request_gate_review(world.pm, CODE, "G4", artifacts=[{"name": "closeout.pdf"}])


@pytest.fixture
def executing(world):
    """Baseline locked and G2, G3 passed: only G4 (closeout) is left."""
    world.locked()
    world.pass_gate("G2")
    world.pass_gate("G3")
    return world


def test_g4_is_refused_while_anything_would_be_left_stuck(executing):
    w, app = executing, executing.app
    app.submit_commitment(w.pm, CODE, po_number="PO-0012", vendor="Dell", line="HW-01", amount="500.00")
    app.approve_commitment(w.fiscal, CODE, "PO-0012")
    app.submit_commitment(w.pm, CODE, po_number="PO-0013", vendor="Dell", line="HW-01", amount="80.00")
    exp = w.expenditure("120.00", invoice="INV-31")
    tr = app.request_budget_transfer(w.pm, CODE, from_line="LB-01", to_line="HW-01",
                                     amount="1000.00", reason="more servers")
    cr = app.submit_change_request(w.pm, CODE, title="t", description="d", justification="j",
                                   scope_impact="add a report")
    error = refused(app, OpenItemsError, request_g4, w)
    assert error.code == "open-items" and error.field == "gate"
    assert error.message == (
        f"cannot request G4 closeout: PO-0012 is still open (500.00 committed), "
        f"PO-0013 awaits approval, {exp} awaits approval, {tr} awaits approval, {cr} is pending; "
        "close or release every purchase order and decide every pending item first")
    assert error.details["items"][0] == "PO-0012 is still open (500.00 committed)"
    # Each one settled in the ordinary way...
    app.close_commitment(w.pm, CODE, "PO-0012", reason="final invoice received")
    app.reject_commitment(w.fiscal, CODE, "PO-0013", reason="not needed")
    app.approve_expenditure(w.fiscal, CODE, exp)
    app.reject_budget_transfer(w.fiscal, CODE, tr, reason="not now")
    app.withdraw_change_request(w.pm, CODE, cr, reason="next phase")
    assert app.project(CODE).open_items() == []
    # ...and closeout may start.
    request_g4(w)
    assert app.project(CODE).gates["G4"]["status"] == "in-review"


def test_a_released_po_and_a_partly_approved_invoice(executing):
    w, app = executing, executing.app
    app.submit_commitment(w.pm, CODE, po_number="PO-1", vendor="Dell", line="HW-01", amount="900.00")
    app.approve_commitment(w.fiscal, CODE, "PO-1")
    big = w.expenditure("30000.00", line="LB-01", invoice="INV-BIG")
    app.approve_expenditure(w.fiscal, CODE, big)  # one of the two fiscal approvals it needs
    error = refused(app, OpenItemsError, request_g4, w)
    assert error.details["items"] == ["PO-1 is still open (900.00 committed)", f"{big} awaits approval"]
    app.release_commitment(w.fiscal, CODE, "PO-1", reason="contract cancelled")
    app.approve_expenditure(w.fiscal2, CODE, big)
    request_g4(w)


def test_the_sign_off_that_would_close_waits_for_what_was_submitted_during_the_review(executing):
    w, app = executing, executing.app
    request_g4(w)
    app.sign_off_gate(w.fiscal, CODE, "G4", decision="approved")
    app.sign_off_gate(w.pmo, CODE, "G4", decision="approved")
    late = w.expenditure("250.00", invoice="INV-LATE")
    error = refused(app, OpenItemsError, app.sign_off_gate, w.sponsor, CODE, "G4", decision="approved")
    assert error.message.startswith(f"cannot pass G4 closeout: {late} awaits approval")
    app.approve_expenditure(w.fiscal2, CODE, late)
    app.sign_off_gate(w.sponsor, CODE, "G4", decision="approved")
    p = app.project(CODE)
    assert p.closed and p.open_items() == []


def test_long_lists_are_cut_short(executing):
    w, app = executing, executing.app
    for i in range(11):
        w.expenditure("10.00", invoice=f"INV-{i}")
    error = refused(app, OpenItemsError, request_g4, w)
    assert len(error.details["items"]) == 11
    assert "and 3 more; close or release" in error.message


def test_reversal_stays_possible_after_closure(executing):
    w, app = executing, executing.app
    e = w.expenditure("400.00")
    app.approve_expenditure(w.fiscal, CODE, e)
    w.pass_gate("G4")
    app.reverse_expenditure(w.fiscal2, CODE, e, reason="vendor credit memo")
    assert app.project(CODE).expenditure(e)["status"] == "reversed"


# Gate conditions ------------------------------------------------------------------------


def conditional_g0(world, *conditions):
    """G0 passed with the PMO lead's and the sponsor's conditions (one each, or none)."""
    app = world.app
    app.request_gate_review(world.pm, CODE, "G0", artifacts=[{"name": "case.pdf"}])
    for who, condition in zip((world.pmo, world.sponsor), (*conditions, "", ""), strict=False):
        app.sign_off_gate(who, CODE, "G0", decision="approved-with-conditions" if condition else "approved",
                          conditions=condition)


def test_conditions_are_recorded_as_met(world):
    app = world.app
    world.baseline()
    conditional_g0(world, "security review before G2", "hosting costs confirmed")
    p = app.project(CODE)
    assert p.open_conditions("G0") == ["security review before G2", "hosting costs confirmed"]
    app.record_gate_conditions_met(world.sponsor, CODE, "G0", conditions=["hosting costs confirmed"],
                                   reason="hosting quote HQ-7 accepted by finance")
    event = list(app.events.get(p.id))[-1]
    assert isinstance(event, Project.GateConditionsMet)
    assert (event.gate, event.round, event.conditions, event.reason, event.meaning) == (
        "G0", 1, ["hosting costs confirmed"], "hosting quote HQ-7 accepted by finance", "approval")
    assert (event.actor_id, event.actor_name) == ("sponsor", "Sam Sponsor")
    assert event.TOPIC == "domain.project:Project.GateConditionsMet"
    p = app.project(CODE)
    assert p.open_conditions("G0") == ["security review before G2"]
    assert p.gates["G0"]["conditions_met"][0]["actor_id"] == "sponsor"
    app.record_gate_conditions_met(world.pmo, CODE, "G0", conditions=["security review before G2"],
                                   reason="security office report SR-12")
    assert app.project(CODE).open_conditions("G0") == []


def test_condition_refusals_write_nothing(world):
    app = world.app
    world.baseline()
    world.app.grant_role(world.admin, "pm", "sponsor", project=CODE, reason="acting sponsor")
    app.request_gate_review(world.pm, CODE, "G0", artifacts=[{"name": "case.pdf"}])
    met = app.record_gate_conditions_met
    refused(app, InvalidStateError, met, world.pmo, CODE, "G0", conditions=["x"], reason="r",
            match="G0 has not passed")
    app.sign_off_gate(world.pmo, CODE, "G0", decision="approved-with-conditions",
                      conditions="security review before G2")
    app.sign_off_gate(world.sponsor, CODE, "G0", decision="approved")
    refused(app, ValidationError, met, world.pmo, CODE, "G0", conditions=["budget approved"],
            reason="r", match="was not passed with the condition 'budget approved'")
    refused(app, ValidationError, met, world.pmo, CODE, "G0", conditions=[], reason="r")
    refused(app, ValidationError, met, world.pmo, CODE, "G0",
            conditions=["security review before G2"], reason="  ")
    refused(app, NotAuthorisedError, met, world.fiscal, CODE, "G0",
            conditions=["security review before G2"], reason="r", match="pmo or sponsor")
    # The PM who asked for the review does not confirm its conditions, even as acting sponsor.
    refused(app, SegregationOfDutiesError, met, world.pm, CODE, "G0",
            conditions=["security review before G2"], reason="r", match="submitted it themselves")
    app.grant_role(world.admin, "admin", "sponsor", project=CODE, reason="cover")
    refused(app, SegregationOfDutiesError, met, world.admin, CODE, "G0",
            conditions=["security review before G2"], reason="r", match="approve nothing")
    met(world.pmo, CODE, "G0", conditions=["security review before G2"], reason="report SR-12")
    refused(app, InvalidStateError, met, world.sponsor, CODE, "G0",
            conditions=["security review before G2"], reason="r", match="already recorded as met")


def test_conditions_of_g4_can_be_met_after_closeout(world):
    app = world.app
    world.locked()
    world.pass_gate("G2")
    world.pass_gate("G3")
    app.request_gate_review(world.pm, CODE, "G4", artifacts=[{"name": "closeout.pdf"}])
    app.sign_off_gate(world.fiscal, CODE, "G4", decision="approved")
    app.sign_off_gate(world.pmo, CODE, "G4", decision="approved-with-conditions",
                      conditions="archive the project records")
    app.sign_off_gate(world.sponsor, CODE, "G4", decision="approved")
    assert app.project(CODE).closed
    app.record_gate_conditions_met(world.pmo, CODE, "G4", conditions=["archive the project records"],
                                   reason="records transferred to the city archive")
    assert app.project(CODE).open_conditions("G4") == []


def test_old_snapshots_load_with_no_conditions_met(world):
    """Project snapshots taken before class_version 2 have no `conditions_met`."""
    state = {"gates": {"G0": {"conditions": ["c"]}}}
    Project.upcast_v1_v2(state)
    assert state["gates"]["G0"]["conditions_met"] == []

