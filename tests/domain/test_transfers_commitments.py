"""Budget transfers between lines and commitments (purchase orders)."""

from decimal import Decimal

from domain import errors
from tests.domain.helpers import CODE, refused


def transfer(world, amount, src="LB-01", dst="HW-01"):
    return world.app.request_budget_transfer(world.pm, CODE, from_line=src, to_line=dst,
                                             amount=amount, reason="hardware prices rose")


def test_transfer_moves_budget_and_keeps_the_total(world):
    app = world.app
    world.locked()
    total = app.project(CODE).totals()["budget"]
    t = transfer(world, "20000.00")
    assert t == "TR-001" and app.project(CODE).lines["HW-01"]["budget"] == Decimal("50000.00")
    app.approve_budget_transfer(world.fiscal, CODE, t)
    p = app.project(CODE)
    assert p.lines["HW-01"]["budget"] == Decimal("70000.00") and p.lines["HW-01"]["transferred"] == Decimal("20000.00")
    assert p.lines["LB-01"]["budget"] == Decimal("180000.00")
    assert p.totals()["budget"] == total
    r = transfer(world, "1.00")
    app.reject_budget_transfer(world.fiscal, CODE, r, reason="not justified")
    assert app.project(CODE).transfer(r)["status"] == "rejected"
    refused(app, errors.InvalidStateError, app.approve_budget_transfer, world.fiscal, CODE, r)


def test_transfer_never_exceeds_source_available(world):
    app = world.app
    world.locked()
    err = refused(app, errors.WouldOverdrawError, transfer, world, "50000.01", src="HW-01", dst="LB-01")
    assert str(err) == "this transfer would overdraw line HW-01 by 0.01; available 50,000.00"
    t = transfer(world, "30000.00", src="HW-01", dst="LB-01")
    po = app.submit_commitment(world.pm, CODE, po_number="PO-7", vendor="Dell", line="HW-01", amount="25000.00")
    app.approve_commitment(world.fiscal, CODE, po)
    refused(app, errors.WouldOverdrawError, app.approve_budget_transfer, world.fiscal2, CODE, t)


def test_transfer_refusals(world):
    app = world.app
    world.locked()
    refused(app, errors.ValidationError, transfer, world, "10.00", src="HW-01", dst="HW-01")
    refused(app, errors.NotFoundError, transfer, world, "10.00", src="XX")
    refused(app, errors.ValidationError, transfer, world, "0")
    refused(app, errors.ValidationError, app.request_budget_transfer, world.pm, CODE, from_line="LB-01",
            to_line="HW-01", amount="5", reason="")
    t = transfer(world, "10.00")
    refused(app, errors.NotAuthorisedError, app.approve_budget_transfer, world.sponsor, CODE, t)
    app.grant_role(world.admin, "pm", "fiscal", project=CODE, reason="acting")
    refused(app, errors.SegregationOfDutiesError, app.approve_budget_transfer, world.pm, CODE, t)
    refused(app, errors.SegregationOfDutiesError, app.reject_budget_transfer, world.pm, CODE, t, reason="x")
    refused(app, errors.NotFoundError, app.approve_budget_transfer, world.fiscal, CODE, "TR-999")


def test_transfers_follow_the_thresholds_of_expenditures(world):
    """Over the dual threshold (25,000) two different fiscal officers approve; over the
    sponsor threshold (100,000) the sponsor after them; the budget moves on the last."""
    app = world.app
    world.locked()
    dual = transfer(world, "30000.00")
    app.approve_budget_transfer(world.fiscal, CODE, dual)
    p = app.project(CODE)
    assert p.transfer(dual)["status"] == "pending" and p.lines["HW-01"]["budget"] == Decimal("50000.00")
    assert [(a["actor_id"], a["role"]) for a in p.transfer(dual)["approvals"]] == [("fiscal", "fiscal")]
    refused(app, errors.SegregationOfDutiesError, app.approve_budget_transfer, world.fiscal, CODE, dual)
    app.approve_budget_transfer(world.fiscal2, CODE, dual)
    p = app.project(CODE)
    assert p.transfer(dual)["status"] == "approved" and p.lines["HW-01"]["budget"] == Decimal("80000.00")

    big = transfer(world, "120000.00")
    refused(app, errors.ThresholdApprovalsError, app.approve_budget_transfer, world.sponsor, CODE, big)
    app.approve_budget_transfer(world.fiscal2, CODE, big)
    refused(app, errors.ThresholdApprovalsError, app.approve_budget_transfer, world.sponsor, CODE, big)
    app.approve_budget_transfer(world.fiscal, CODE, big)
    assert app.project(CODE).transfer(big)["status"] == "pending"
    refused(app, errors.NotAuthorisedError, app.approve_budget_transfer, world.pmo, CODE, big)
    app.approve_budget_transfer(world.sponsor, CODE, big)
    p = app.project(CODE)
    assert p.transfer(big)["status"] == "approved" and p.lines["HW-01"]["budget"] == Decimal("200000.00")
    assert [a["role"] for a in p.transfer(big)["approvals"]] == ["fiscal", "fiscal", "sponsor"]


def test_a_transfer_approval_recorded_before_the_thresholds_applied_completes_it():
    """Approvals in logs written before version 2 carry no role: each was one fiscal
    officer's, and it decided the transfer."""
    from domain.project import Project

    state = {"transfer_id": "TR-001", "reason": ""}
    Project.BudgetTransferApproved.upcast_v1_v2(state)
    assert state["role"] == "fiscal" and state["completes_approval"] is True
    snapshot = {"gates": {}, "transfers": {"TR-001": {"status": "approved"}}}
    Project.upcast_v2_v3(snapshot)
    assert snapshot["transfers"]["TR-001"]["approvals"] == []


def po(world, number="PO-1", amount="20000.00", line="HW-01"):
    return world.app.submit_commitment(world.pm, CODE, po_number=number, vendor="Dell Technologies",
                                       line=line, amount=amount, description="12 servers")


def test_commitment_lifecycle(world):
    app = world.app
    world.locked()
    n = po(world)
    assert app.project(CODE).available("HW-01") == Decimal("50000.00")  # pending reserves nothing
    app.approve_commitment(world.fiscal, CODE, n)
    p = app.project(CODE)
    assert p.commitment(n)["status"] == "open" and p.available("HW-01") == Decimal("30000.00")
    e = world.expenditure("12000.00", po_number=n)
    app.approve_expenditure(world.fiscal, CODE, e)
    p = app.project(CODE)
    assert p.commitment(n)["remaining"] == Decimal("8000.00") and p.lines["HW-01"]["committed"] == Decimal("8000.00")
    assert p.available("HW-01") == Decimal("30000.00")
    app.close_commitment(world.pm, CODE, n, reason="delivery complete")
    p = app.project(CODE)
    assert p.commitment(n)["status"] == "closed" and p.commitment(n)["released"] == Decimal("8000.00")
    assert p.available("HW-01") == Decimal("38000.00")
    refused(app, errors.InvalidStateError, app.release_commitment, world.fiscal, CODE, n, reason="x")


def test_release_and_reject(world):
    app = world.app
    world.locked()
    a, b = po(world, "PO-A"), po(world, "PO-B")
    app.approve_commitment(world.fiscal, CODE, a)
    app.release_commitment(world.fiscal, CODE, a, reason="vendor went bankrupt")
    app.reject_commitment(world.fiscal, CODE, b, reason="no quote attached")
    p = app.project(CODE)
    assert p.commitment(a)["status"] == "released" and p.commitment(b)["status"] == "rejected"
    assert p.lines["HW-01"]["committed"] == 0
    refused(app, errors.NotAuthorisedError, app.release_commitment, world.pm, CODE, a, reason="x")


def test_commitment_refusals(world):
    app = world.app
    world.locked()
    n = po(world)
    refused(app, errors.DuplicateError, po, world)
    refused(app, errors.NotFoundError, po, world, "PO-2", line="XX")
    refused(app, errors.ValidationError, po, world, "PO-2", amount="-3")
    refused(app, errors.NotAuthorisedError, app.approve_commitment, world.admin, CODE, n)
    app.grant_role(world.admin, "admin", "fiscal", reason="covering leave")
    refused(app, errors.SegregationOfDutiesError, app.approve_commitment, world.admin, CODE, n,
            match="administrators approve nothing")
    refused(app, errors.NotAuthorisedError, app.approve_commitment, world.sponsor, CODE, n)
    refused(app, errors.InvalidStateError, app.close_commitment, world.pm, CODE, n, reason="x")
    big = po(world, "PO-BIG", amount="60000.00", line="LB-01")
    app.approve_commitment(world.fiscal, CODE, big)
    refused(app, errors.SegregationOfDutiesError, app.approve_commitment, world.fiscal, CODE, big)
    assert app.project(CODE).commitment(big)["status"] == "pending"
    app.approve_commitment(world.fiscal2, CODE, big)
    assert app.project(CODE).commitment(big)["status"] == "open"
    over = po(world, "PO-OVER", amount="50000.01")
    refused(app, errors.WouldOverdrawError, app.approve_commitment, world.fiscal, CODE, over)
    huge = po(world, "PO-HUGE", amount="120000.00", line="LB-01")
    refused(app, errors.ThresholdApprovalsError, app.approve_commitment, world.sponsor, CODE, huge)
