"""Expenditures: submission, approval thresholds, overdraw, rejection, reversal."""

from datetime import date
from decimal import Decimal

import pytest

from domain.errors import (
    DuplicateError,
    InvalidStateError,
    NotAuthorisedError,
    NotFoundError,
    SegregationOfDutiesError,
    ThresholdApprovalsError,
    ValidationError,
    WouldOverdrawError,
)
from tests.domain.helpers import CODE, refused


@pytest.fixture
def project(world):
    return world.locked()


def status(world, e):
    return world.app.project(CODE).expenditure(e)["status"]


def test_submit_and_approve(world, project):
    app = world.app
    e = world.expenditure("1250.00", document_sha256="AB" * 32)
    assert e == "EXP-0001"
    p = app.project(CODE)
    rec = p.expenditure(e)
    assert (rec["status"], rec["document_sha256"], rec["invoice_date"]) == ("pending", "ab" * 32, date(2025, 3, 1))
    assert p.lines["HW-01"]["pending"] == Decimal("1250.00")
    app.approve_expenditure(world.fiscal, CODE, e, reason="matches PO and receipt")
    p = app.project(CODE)
    assert p.expenditure(e)["status"] == "approved"
    assert (p.lines["HW-01"]["spent"], p.lines["HW-01"]["pending"]) == (Decimal("1250.00"), 0)
    event = list(app.events.get(p.id))[-1]
    assert (event.actor_id, event.role, event.meaning, event.completes_approval) == ("fiscal", "fiscal", "approval", True)


def test_overdraw_is_refused_with_a_message_a_fiscal_officer_understands(world, project):
    app = world.app
    first = world.expenditure("24000.00")
    app.approve_expenditure(world.fiscal, CODE, first)
    second = world.expenditure("22250.00", invoice="INV-2")
    app.approve_expenditure(world.fiscal, CODE, second)
    third = world.expenditure("5000.00", invoice="INV-3")
    err = refused(app, WouldOverdrawError, app.approve_expenditure, world.fiscal, CODE, third)
    assert str(err) == "approval would overdraw line HW-01 by 1,250.00; available 3,750.00"
    assert err.details["available"] == Decimal("3750.00")
    assert status(world, third) == "pending"


def test_open_commitments_count_against_available(world, project):
    app = world.app
    n = app.submit_commitment(world.pm, CODE, po_number="PO-1", vendor="Dell", line="HW-01", amount="20000.00")
    app.approve_commitment(world.fiscal, CODE, n)
    e = world.expenditure("30000.01", vendor="CDW")
    # Checked at every approval step, so the first officer already hears about it.
    refused(app, WouldOverdrawError, app.approve_expenditure, world.fiscal, CODE, e,
            match="by 0.01; available 30,000.00")
    # An invoice citing the PO draws on the PO first.
    cited = world.expenditure("20000.00", invoice="INV-PO", vendor="Dell", po_number=n)
    app.approve_expenditure(world.fiscal, CODE, cited)
    p = app.project(CODE)
    assert p.commitment(n)["remaining"] == 0 and p.available("HW-01") == Decimal("30000.00")


def test_over_25000_needs_two_different_fiscal_officers(world, project):
    app = world.app
    e = world.expenditure("25000.01")
    app.approve_expenditure(world.fiscal, CODE, e)
    assert status(world, e) == "pending"
    refused(app, SegregationOfDutiesError, app.approve_expenditure, world.fiscal, CODE, e,
            match="different person")
    app.approve_expenditure(world.fiscal2, CODE, e)
    assert status(world, e) == "approved"


def test_over_100000_also_needs_the_sponsor_after_the_officers(world, project):
    app = world.app
    e = world.expenditure("120000.00", line="LB-01")
    refused(app, ThresholdApprovalsError, app.approve_expenditure, world.sponsor, CODE, e,
            match="needs 2 fiscal approval")
    app.approve_expenditure(world.fiscal, CODE, e)
    app.approve_expenditure(world.fiscal2, CODE, e)
    assert status(world, e) == "pending"
    app.grant_role(world.admin, "auditor", "fiscal", reason="temporary cover")
    refused(app, ThresholdApprovalsError, app.approve_expenditure, world.auditor, CODE, e,
            match="now needs the sponsor")
    app.approve_expenditure(world.sponsor, CODE, e)
    rec = app.project(CODE).expenditure(e)
    assert rec["status"] == "approved"
    assert [a["role"] for a in rec["approvals"]] == ["fiscal", "fiscal", "sponsor"]


def test_one_person_cannot_fill_two_approvals_through_two_roles(world, project):
    app = world.app
    app.grant_role(world.admin, "fiscal", "sponsor", reason="acting sponsor")
    e = world.expenditure("150000.00", line="LB-01")
    app.approve_expenditure(world.fiscal, CODE, e)
    app.approve_expenditure(world.fiscal2, CODE, e)
    refused(app, SegregationOfDutiesError, app.approve_expenditure, world.fiscal, CODE, e)


def test_approval_refusals(world, project):
    app = world.app
    e = world.expenditure("100.00")
    refused(app, NotAuthorisedError, app.approve_expenditure, world.pm2, CODE, e)
    refused(app, NotAuthorisedError, app.approve_expenditure, world.sponsor, CODE, e,
            match="needs a fiscal officer")
    refused(app, NotAuthorisedError, app.approve_expenditure, world.auditor, CODE, e)
    app.grant_role(world.admin, "pm", "fiscal", reason="acting")
    refused(app, SegregationOfDutiesError, app.approve_expenditure, world.pm, CODE, e,
            match="Pat Manager may not approve EXP-0001: they submitted it themselves")
    refused(app, SegregationOfDutiesError, app.reject_expenditure, world.pm, CODE, e, reason="x")
    refused(app, NotFoundError, app.approve_expenditure, world.fiscal, CODE, "EXP-9999")
    app.revoke_role(world.admin, "fiscal", "fiscal", reason="moved to treasury")
    refused(app, NotAuthorisedError, app.approve_expenditure, world.fiscal, CODE, e,
            match="do not hold now")


def test_submission_refusals(world, project):
    app = world.app
    world.expenditure("100.00")
    refused(app, DuplicateError, world.expenditure, "5.00", vendor="dell technologies")
    refused(app, NotFoundError, world.expenditure, "5.00", invoice="I-2", line="XX-01")
    refused(app, ValidationError, world.expenditure, "0.00", invoice="I-3")
    refused(app, ValidationError, world.expenditure, "1.001", invoice="I-3")
    refused(app, ValidationError, world.expenditure, "1.00", invoice="I-3", document_sha256="xyz")
    refused(app, ValidationError, world.expenditure, "1.00", invoice="I-3", invoice_date="31/03/2025")
    refused(app, NotFoundError, world.expenditure, "1.00", invoice="I-3", po_number="PO-NONE")
    n = app.submit_commitment(world.pm, CODE, po_number="PO-L", vendor="v", line="LB-01", amount="10.00")
    refused(app, InvalidStateError, world.expenditure, "1.00", invoice="I-3", line="LB-01", po_number=n)
    app.approve_commitment(world.fiscal, CODE, n)
    refused(app, ValidationError, world.expenditure, "1.00", invoice="I-3", po_number=n)
    refused(app, NotAuthorisedError, app.submit_expenditure, world.fiscal, CODE, line="HW-01",
            amount="1.00", vendor="v", invoice_number="I-4", invoice_date=date(2025, 1, 1),
            description="d")


def test_rejection_frees_the_invoice_number(world, project):
    app = world.app
    e = world.expenditure("100.00")
    refused(app, ValidationError, app.reject_expenditure, world.fiscal, CODE, e, reason=" ")
    app.reject_expenditure(world.fiscal, CODE, e, reason="wrong cost centre")
    assert status(world, e) == "rejected"
    assert app.project(CODE).lines["HW-01"]["pending"] == 0
    refused(app, InvalidStateError, app.approve_expenditure, world.fiscal, CODE, e)
    world.expenditure("100.00")  # resubmitted correctly


def test_reversal(world, project):
    app = world.app
    n = app.submit_commitment(world.pm, CODE, po_number="PO-1", vendor="Dell", line="HW-01", amount="1000.00")
    app.approve_commitment(world.fiscal, CODE, n)
    e = world.expenditure("600.00", po_number=n)
    refused(app, InvalidStateError, app.reverse_expenditure, world.fiscal, CODE, e, reason="x")
    app.approve_expenditure(world.fiscal, CODE, e)
    refused(app, ValidationError, app.reverse_expenditure, world.fiscal, CODE, e, reason="")
    refused(app, NotAuthorisedError, app.reverse_expenditure, world.pm, CODE, e, reason="x")
    app.reverse_expenditure(world.fiscal2, CODE, e, reason="invoice paid twice")
    p = app.project(CODE)
    assert p.expenditure(e)["status"] == "reversed" and p.lines["HW-01"]["spent"] == 0
    assert p.commitment(n)["remaining"] == Decimal("1000.00") and p.lines["HW-01"]["committed"] == Decimal("1000.00")
    refused(app, InvalidStateError, app.reverse_expenditure, world.fiscal, CODE, e, reason="again")
    event = list(app.events.get(p.id))[-1]
    assert (event.reason, event.meaning, event.restores) == ("invoice paid twice", "responsibility", Decimal("600.00"))
