"""Change requests: submit, approve (applies impacts), reject, withdraw."""

from datetime import date
from decimal import Decimal

from domain import errors
from tests.domain.helpers import CODE, refused


def submit(world, **kw):
    fields = dict(title="Add payments module", description="Online fee payment",
                  justification="Council motion 2026-31", scope_impact="payments in scope")
    fields.update(kw)
    return world.app.submit_change_request(world.pm, CODE, **fields)


def test_approval_applies_cost_schedule_and_scope_impacts(world):
    app = world.app
    world.locked()
    cr = submit(
        world,
        cost_impacts=[{"line": "HW-01", "amount": "-5000.00"},
                      {"line": "VS-01", "amount": "30000.00", "name": "Payment gateway",
                       "category": "vendor services"}],
        schedule_impacts=[{"milestone": "M-02", "planned_finish": "2026-03-31",
                           "budgeted_value": "175000.00"}],
        deliverables=[{"deliverable": "D-PAY", "name": "Payments module"}],
    )
    assert cr == "CR-001" and app.project(CODE).change_request(cr)["status"] == "pending"
    app.approve_change_request(world.sponsor, CODE, cr, reason="funded by fee revenue")
    p = app.project(CODE)
    assert p.change_request(cr)["status"] == "approved"
    assert p.lines["HW-01"]["budget"] == Decimal("45000.00")
    assert p.lines["HW-01"]["cr_adjusted"] == Decimal("-5000.00")
    assert p.lines["HW-01"]["original"] == Decimal("50000.00")
    assert p.lines["VS-01"]["budget"] == Decimal("30000.00") and p.lines["VS-01"]["category"] == "vendor services"
    assert p.milestones["M-02"]["planned_finish"] == date(2026, 3, 31)
    assert p.milestones["M-02"]["budgeted_value"] == Decimal("175000.00")
    assert p.deliverables["D-PAY"]["change_request"] == cr


def test_reject_and_withdraw(world):
    app = world.app
    world.locked()
    a, b = submit(world), submit(world, title="Second")
    app.reject_change_request(world.sponsor, CODE, a, reason="no funding this year")
    app.withdraw_change_request(world.pm, CODE, b, reason="superseded")
    p = app.project(CODE)
    assert p.change_request(a)["status"] == "rejected" and p.change_request(b)["status"] == "withdrawn"
    for command in (app.approve_change_request, app.reject_change_request):
        refused(app, errors.InvalidStateError, command, world.sponsor, CODE, a, reason="x")
    refused(app, errors.InvalidStateError, app.withdraw_change_request, world.pm, CODE, b, reason="x")
    refused(app, errors.ValidationError, app.reject_change_request, world.sponsor, CODE, submit(world), reason="")


def test_submission_refusals(world):
    app = world.app
    world.locked()
    refused(app, errors.ValidationError, submit, world, scope_impact="")
    refused(app, errors.NotFoundError, submit, world, cost_impacts=[{"line": "XX-01", "amount": "-1.00"}])
    refused(app, errors.ValidationError, submit, world, cost_impacts=[{"line": "XX-01", "amount": "1.00"}])
    refused(app, errors.ValidationError, submit, world, cost_impacts=[{"line": "HW-01", "amount": "0"}])
    refused(app, errors.ValidationError, submit, world, cost_impacts=[{"line": "HW-01", "amount": "1"},
                                                                {"line": "HW-01", "amount": "2"}])
    refused(app, errors.NotFoundError, submit, world, schedule_impacts=[{"milestone": "M-77", "planned_finish": "2026-01-01"}])
    refused(app, errors.ValidationError, submit, world, schedule_impacts=[{"milestone": "M-01"}])
    refused(app, errors.ValidationError, submit, world, deliverables=[
        {"deliverable": "D-1", "name": "x"}, {"deliverable": "D-1", "name": "y"}])
    refused(app, errors.ValidationError, submit, world, justification=" ")


def test_approval_segregation_and_role(world):
    app = world.app
    world.locked()
    cr = submit(world)
    refused(app, errors.NotAuthorisedError, app.approve_change_request, world.fiscal, CODE, cr)
    refused(app, errors.NotAuthorisedError, app.approve_change_request, world.pmo, CODE, cr)
    app.grant_role(world.admin, "pm", "sponsor", project=CODE, reason="acting")
    refused(app, errors.SegregationOfDutiesError, app.approve_change_request, world.pm, CODE, cr)
    refused(app, errors.SegregationOfDutiesError, app.reject_change_request, world.pm, CODE, cr, reason="x")
    # The change board can be the PMO lead instead of the sponsor.
    app.change_policy(world.pmo, {"change_approver_role": "pmo"}, reason="change board")
    refused(app, errors.NotAuthorisedError, app.approve_change_request, world.sponsor, CODE, cr)
    app.approve_change_request(world.pmo, CODE, cr)


def test_approval_refused_when_a_cut_would_overdraw(world):
    app = world.app
    world.locked()
    cr = submit(world, cost_impacts=[{"line": "HW-01", "amount": "-20000.00"}])
    e = world.expenditure("35000.00")
    app.approve_expenditure(world.fiscal, CODE, e)
    app.approve_expenditure(world.fiscal2, CODE, e)
    err = refused(app, errors.WouldOverdrawError, app.approve_change_request, world.sponsor, CODE, cr)
    assert str(err) == "this change would overdraw line HW-01 by 5,000.00; available 15,000.00"


def test_approval_refused_when_baseline_moved(world):
    app = world.app
    world.baseline()
    cr = submit(world, cost_impacts=[{"line": "SW-01", "amount": "10.00", "name": "Licences",
                                      "category": "software"}])
    app.add_budget_line(world.pm, CODE, line="SW-01", name="Licences", category="software", amount="5")
    refused(app, errors.DuplicateError, app.approve_change_request, world.sponsor, CODE, cr)
    refused(app, errors.NotFoundError, app.approve_change_request, world.sponsor, CODE, "CR-404")
