"""Progress and acceptance, risks, issues, status reports and earned value."""

from datetime import date
from decimal import Decimal

from domain.earned_value import ac, ev, percent_as_of, planned_fraction, pv
from domain.errors import (
    InvalidStateError,
    NotAuthorisedError,
    NotFoundError,
    SegregationOfDutiesError,
    ValidationError,
)
from tests.domain.helpers import CODE, refused


def test_progress_keeps_the_latest_business_date(world):
    app, pm = world.app, world.pm
    world.baseline()
    app.report_progress(pm, CODE, "M-01", percent=40, as_of=date(2025, 3, 31))
    app.report_progress(pm, CODE, "M-01", percent=20, as_of=date(2025, 2, 28), note="late entry")
    m = app.project(CODE).milestones["M-01"]
    assert (m["percent"], m["percent_as_of"]) == (40, date(2025, 3, 31))
    assert percent_as_of(m, date(2025, 3, 1)) == 20 and percent_as_of(m, date(2025, 1, 1)) == 0
    refused(app, ValidationError, app.report_progress, pm, CODE, "M-01", percent=101, as_of=date(2025, 4, 1))
    refused(app, ValidationError, app.report_progress, pm, CODE, "M-01", percent=50, as_of="soon")
    refused(app, NotFoundError, app.report_progress, pm, CODE, "M-99", percent=5, as_of=date(2025, 4, 1))


def test_milestone_acceptance(world):
    app = world.app
    world.baseline()
    app.report_progress(world.pm, CODE, "M-01", percent=90, as_of=date(2025, 6, 1))
    refused(app, InvalidStateError, app.accept_milestone, world.sponsor, CODE, "M-01",
            accepted_on=date(2025, 6, 2), match="90% complete")
    app.report_progress(world.pm, CODE, "M-01", percent=100, as_of=date(2025, 6, 30))
    refused(app, NotAuthorisedError, app.accept_milestone, world.pm2, CODE, "M-01", accepted_on=date(2025, 7, 1))
    app.grant_role(world.admin, "pm", "sponsor", reason="acting")
    refused(app, SegregationOfDutiesError, app.accept_milestone, world.pm, CODE, "M-01",
            accepted_on=date(2025, 7, 1))
    app.accept_milestone(world.sponsor, CODE, "M-01", accepted_on=date(2025, 7, 1), reason="UAT passed")
    m = app.project(CODE).milestones["M-01"]
    assert (m["accepted"], m["accepted_on"], m["accepted_by"]) == (True, date(2025, 7, 1), "sponsor")
    refused(app, InvalidStateError, app.accept_milestone, world.sponsor, CODE, "M-01", accepted_on=date(2025, 7, 1))
    refused(app, InvalidStateError, app.report_progress, world.pm, CODE, "M-01", percent=50, as_of=date(2025, 8, 1))


def test_risks(world):
    app, pm = world.app, world.pm
    world.charter()
    r = app.raise_risk(pm, CODE, title="Vendor delay", probability=3, impact=4, owner="Pat",
                       mitigation="Weekly vendor calls")
    assert r == "R-001"
    app.update_risk(pm, CODE, r, probability=4, status="mitigating", reason="vendor missed sprint")
    risk = app.project(CODE).risk(r)
    assert (risk["probability"], risk["status"]) == (4, "mitigating")
    refused(app, ValidationError, app.update_risk, pm, CODE, r, probability=4, reason="same")
    refused(app, ValidationError, app.update_risk, pm, CODE, r, impact=6, reason="x")
    refused(app, ValidationError, app.raise_risk, pm, CODE, title="t", probability=0, impact=1, owner="o",
            mitigation="m")
    app.close_risk(pm, CODE, r, reason="vendor delivered")
    refused(app, InvalidStateError, app.update_risk, pm, CODE, r, impact=1, reason="x")
    refused(app, InvalidStateError, app.close_risk, pm, CODE, r, reason="x")
    refused(app, NotAuthorisedError, app.raise_risk, world.fiscal, CODE, title="t", probability=1,
            impact=1, owner="o", mitigation="m")


def test_issues(world):
    app, pm = world.app, world.pm
    world.charter()
    i = app.raise_issue(pm, CODE, title="Test data missing", description="No anonymised data",
                        severity="high", owner="Data team")
    app.escalate_issue(pm, CODE, i, to="sponsor", reason="blocks UAT")
    issue = app.project(CODE).issue(i)
    assert issue["status"] == "escalated" and issue["escalations"][0]["to"] == "sponsor"
    app.resolve_issue(pm, CODE, i, resolution="Synthetic data generated")
    assert app.project(CODE).issue(i)["status"] == "resolved"
    refused(app, InvalidStateError, app.resolve_issue, pm, CODE, i, resolution="again")
    refused(app, InvalidStateError, app.escalate_issue, pm, CODE, i, to="x", reason="x")
    refused(app, ValidationError, app.raise_issue, pm, CODE, title="t", description="d",
            severity="urgent", owner="o")


def test_status_report_stores_figures_at_publication(world):
    app = world.app
    world.baseline()
    app.report_progress(world.pm, CODE, "M-01", percent=50, as_of=date(2025, 3, 31))
    e = world.expenditure("45000.00", line="LB-01", invoice_date=date(2025, 3, 15))
    app.approve_expenditure(world.fiscal, CODE, e)
    app.approve_expenditure(world.fiscal2, CODE, e)
    world.expenditure("999.00", invoice="INV-APR", invoice_date=date(2025, 4, 2))
    r = app.publish_status_report(world.pm, CODE, period_start=date(2025, 3, 1), period_end=date(2025, 3, 31),
                                  overall="amber", schedule="green", budget="amber", scope="green",
                                  summary="Design on track; hardware quotes high")
    f = app.project(CODE).status_reports[r]["figures"]
    # PV: M-01 is 89/180 days into its plan.
    assert f["pv"] == Decimal("49444.44") and f["ev"] == Decimal("50000.00") and f["ac"] == Decimal("45000.00")
    assert (f["cpi"], f["spi"]) == (Decimal("1.111"), Decimal("1.011"))
    assert (f["cv"], f["sv"], f["bac"]) == (Decimal("5000.00"), Decimal("555.56"), Decimal("250000.00"))
    assert f["spent"] == Decimal("45000.00") and f["as_of"] == date(2025, 3, 31)
    refused(app, ValidationError, app.publish_status_report, world.pm, CODE, period_start=date(2025, 4, 1),
            period_end=date(2025, 3, 1), overall="green", schedule="green", budget="green",
            scope="green", summary="s")
    refused(app, ValidationError, app.publish_status_report, world.pm, CODE, period_start=date(2025, 4, 1),
            period_end=date(2025, 4, 30), overall="blue", schedule="green", budget="green",
            scope="green", summary="s")


def test_earned_value_edges(world):
    world.charter()
    p = world.app.project(CODE)
    assert pv(p, date(2025, 1, 1)) == ev(p, date(2025, 1, 1)) == ac(p, date(2025, 1, 1)) == 0
    assert planned_fraction(date(2025, 1, 1), date(2025, 1, 1), date(2024, 12, 31)) == 0
    assert planned_fraction(date(2025, 1, 1), date(2025, 1, 1), date(2025, 1, 1)) == 1
    assert planned_fraction(date(2025, 1, 1), date(2025, 1, 11), date(2025, 1, 6)) == Decimal("0.5")
    assert planned_fraction(date(2025, 1, 1), date(2025, 1, 11), date(2026, 1, 1)) == 1
    r = world.app.publish_status_report(world.pm, CODE, period_start=date(2025, 1, 1),
                                        period_end=date(2025, 1, 31), overall="green", schedule="green",
                                        budget="green", scope="green", summary="kick-off")
    f = world.app.project(CODE).status_reports[r]["figures"]
    assert f["cpi"] is None and f["spi"] is None  # zero denominators: not available
