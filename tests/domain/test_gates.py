"""Gates G0..G4: order, required sign-offs, segregation of duties, closure."""

from datetime import date

import pytest

from domain.errors import (
    GateOutOfOrderError,
    InvalidStateError,
    NotAuthorisedError,
    ProjectClosedError,
    SegregationOfDutiesError,
    ValidationError,
)
from tests.domain.helpers import CODE, refused


def request(world, gate, **kw):
    world.app.request_gate_review(world.pm, CODE, gate, artifacts=kw.pop("artifacts", [{"name": "pack.pdf"}]), **kw)


def test_gate_passes_on_the_last_required_signoff(world):
    app = world.app
    world.baseline()
    request(world, "G0", artifacts=[{"name": "charter.pdf", "sha256": "ab" * 32, "uri": "dms://1"}])
    app.sign_off_gate(world.sponsor, CODE, "G0", decision="approved")
    assert app.project(CODE).gates["G0"]["status"] == "in-review"
    app.sign_off_gate(world.pmo, CODE, "G0", decision="approved-with-conditions",
                      conditions="confirm hosting costs by G1")
    gate = app.project(CODE).gates["G0"]
    assert gate["status"] == "passed" and gate["conditions"] == ["confirm hosting costs by G1"]
    assert [(s["role"], s["decision"]) for s in gate["signoffs"]] == [
        ("sponsor", "approved"), ("pmo", "approved-with-conditions")]
    events = list(app.events.get(app.project(CODE).id))
    assert [type(e).__name__ for e in events[-2:]] == ["GateSignedOff", "GatePassed"]
    assert events[-2].meaning == "approval" and events[-2].required_roles == ["pmo", "sponsor"]


def test_gate_out_of_order(world):
    app = world.app
    world.baseline()
    refused(app, GateOutOfOrderError, request, world, "G1",
            match=r"G1 \(planning\) cannot be reviewed before G0 \(initiation\) has passed")
    refused(app, GateOutOfOrderError, request, world, "G3")
    refused(app, ValidationError, request, world, "G9")


def test_review_request_refusals(world):
    app = world.app
    world.charter()
    refused(app, ValidationError, request, world, "G0", artifacts=[])
    refused(app, ValidationError, request, world, "G0", artifacts=[{"name": "x", "sha256": "zz"}])
    refused(app, NotAuthorisedError, app.request_gate_review, world.sponsor, CODE, "G0",
            artifacts=[{"name": "x"}])
    request(world, "G0")
    refused(app, InvalidStateError, request, world, "G0")
    world.app.sign_off_gate(world.sponsor, CODE, "G0", decision="approved")
    world.app.sign_off_gate(world.pmo, CODE, "G0", decision="approved")
    refused(app, InvalidStateError, request, world, "G0")
    # G1 needs a baseline to review.
    refused(app, InvalidStateError, request, world, "G1", match="budget lines and milestones")


def test_signoff_segregation_of_duties(world):
    app = world.app
    world.baseline()
    app.grant_role(world.admin, "pm", "sponsor", reason="acting sponsor")
    request(world, "G0")
    refused(app, SegregationOfDutiesError, app.sign_off_gate, world.pm, CODE, "G0",
            decision="approved", match="submitted it themselves")
    app.grant_role(world.admin, "sponsor", "pmo", reason="also PMO")
    app.sign_off_gate(world.sponsor, CODE, "G0", decision="approved", as_role="sponsor")
    refused(app, SegregationOfDutiesError, app.sign_off_gate, world.sponsor, CODE, "G0",
            decision="approved", as_role="pmo", match="different person")


def test_signoff_refusals(world):
    app = world.app
    world.baseline()
    refused(app, InvalidStateError, app.sign_off_gate, world.sponsor, CODE, "G0", decision="approved")
    request(world, "G0")
    refused(app, NotAuthorisedError, app.sign_off_gate, world.fiscal, CODE, "G0", decision="approved")
    refused(app, NotAuthorisedError, app.sign_off_gate, world.auditor, CODE, "G0", decision="approved")
    refused(app, NotAuthorisedError, app.sign_off_gate, world.sponsor, CODE, "G0", decision="approved",
            as_role="pmo")
    refused(app, ValidationError, app.sign_off_gate, world.sponsor, CODE, "G0", decision="maybe")
    refused(app, ValidationError, app.sign_off_gate, world.sponsor, CODE, "G0",
            decision="approved-with-conditions")
    refused(app, ValidationError, app.sign_off_gate, world.sponsor, CODE, "G0", decision="rejected")
    app.grant_role(world.admin, "pm2", "sponsor", reason="deputy")
    app.sign_off_gate(world.sponsor, CODE, "G0", decision="approved")
    refused(app, InvalidStateError, app.sign_off_gate, world.pm2, CODE, "G0", decision="approved",
            match="already given")


def test_rejection_then_new_round(world):
    app = world.app
    world.baseline()
    request(world, "G0")
    app.sign_off_gate(world.sponsor, CODE, "G0", decision="approved")
    app.sign_off_gate(world.pmo, CODE, "G0", decision="rejected", reason="business case too thin")
    gate = app.project(CODE).gates["G0"]
    assert gate["status"] == "rejected"
    refused(app, InvalidStateError, app.sign_off_gate, world.pmo, CODE, "G0", decision="approved")
    request(world, "G0", note="business case v2")
    gate = app.project(CODE).gates["G0"]
    assert (gate["status"], gate["round"], gate["signoffs"]) == ("in-review", 2, [])
    world.app.sign_off_gate(world.sponsor, CODE, "G0", decision="approved")
    world.app.sign_off_gate(world.pmo, CODE, "G0", decision="approved")
    assert app.project(CODE).gates["G0"]["status"] == "passed"


def test_required_roles_are_those_in_force_when_the_review_is_requested(world):
    app = world.app
    world.baseline()
    app.change_policy(world.pmo, {"gate_signoff_roles": {"G0": ["sponsor"]}}, reason="lighter G0")
    request(world, "G0")
    app.change_policy(world.pmo, {"gate_signoff_roles": {"G0": ["pmo", "sponsor"]}}, reason="back")
    app.sign_off_gate(world.sponsor, CODE, "G0", decision="approved")
    assert app.project(CODE).gates["G0"]["status"] == "passed"
    # ...and a policy change during a review cannot leave it unpassable.
    app.change_policy(world.pmo, {"gate_signoff_roles": {"G1": ["fiscal"]}}, reason="lighter G1")
    request(world, "G1")
    app.change_policy(world.pmo, {"gate_signoff_roles": {"G1": ["fiscal", "pmo", "sponsor"]}}, reason="x")
    app.sign_off_gate(world.fiscal, CODE, "G1", decision="approved")
    assert app.project(CODE).baseline_locked


@pytest.fixture
def closed(world):
    world.locked()
    e = world.expenditure("1000.00")
    world.app.approve_expenditure(world.fiscal, CODE, e)
    for gate in ("G2", "G3", "G4"):
        world.pass_gate(gate)
    return e


def test_g4_closes_the_project(world, closed):
    p = world.app.project(CODE)
    assert p.closed and p.next_gate is None
    assert type(list(world.app.events.get(p.id))[-1]).__name__ == "Closed"


@pytest.mark.parametrize("command", [
    lambda w: w.app.amend_charter(w.pm, CODE, {"title": "x"}, reason="r"),
    lambda w: w.expenditure("10.00", invoice="INV-9"),
    lambda w: w.app.report_progress(w.pm, CODE, "M-01", percent=5, as_of=date(2026, 1, 1)),
    lambda w: w.app.raise_risk(w.pm, CODE, title="t", probability=1, impact=1, owner="o", mitigation="m"),
    lambda w: w.app.request_budget_transfer(w.pm, CODE, from_line="LB-01", to_line="HW-01",
                                            amount="1.00", reason="r"),
    lambda w: w.app.submit_change_request(w.pm, CODE, title="t", description="d", justification="j",
                                          scope_impact="more"),
    lambda w: w.app.publish_status_report(w.pm, CODE, period_start=date(2026, 1, 1),
                                          period_end=date(2026, 1, 31), overall="green", schedule="green",
                                          budget="green", scope="green", summary="s"),
])
def test_closed_project_accepts_nothing(world, closed, command):
    refused(world.app, ProjectClosedError, command, world, match="closed")


def test_closed_project_accepts_fiscal_reversal(world, closed):
    app = world.app
    app.reverse_expenditure(world.fiscal2, CODE, closed, reason="duplicate payment found in audit")
    p = app.project(CODE)
    assert p.expenditure(closed)["status"] == "reversed" and p.lines["HW-01"]["spent"] == 0
