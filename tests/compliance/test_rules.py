"""Every compliance rule: a history that fires it (rule id, project, exact evidence positions)
and a near miss that does not. Histories are written event by event (tests/compliance/
history.py), because what the check looks for is mostly what the services refuse."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.compliance import RULES, ComplianceEvaluator, Finding, evaluate
from domain.compliance.evaluator import findings_from_verification
from tests.compliance.history import CODE, History, Proj, d

OTHER = "IT-2026-099"


@pytest.fixture
def h() -> History:
    return History()


def base(h: History, code: str = CODE, **kw: object) -> Proj:
    """A chartered project with a 100,000.00 hardware line and a milestone far ahead."""
    p = h.project(code, **kw)
    p.line("HW-01", "100000.00")
    p.milestone("M-01", d("2026-01-01"), d("2026-06-30"), "100000.00")
    return p


# A history with nothing wrong in it -------------------------------------------------------------


def test_a_clean_history_has_no_findings(h):
    p = h.project()
    p.line("HW-01", "100000.00")
    p.line("CT-01", "10000.00", category="contingency")
    p.milestone("M-01", d("2025-01-01"), d("2025-01-31"), "20000.00")
    p.milestone("M-02", d("2025-02-01"), d("2025-12-31"), "80000.00")
    p.gate("G0")
    p.gate("G1")
    p.po("PO-1", "8000.00")
    p.approve_po("PO-1")
    h.tick(days=3)
    p.exp("30000.00", invoice="A-1", po=None)
    p.approve_exp("EXP-0001", by="fiscal", completes=False)
    p.approve_exp("EXP-0001", by="fiscal2")
    p.exp("8000.00", invoice="A-2", po="PO-1")
    p.approve_exp("EXP-0002")
    p.transfer("HW-01", "CT-01", "1000.00")
    p.approve_transfer("TR-001")
    p.cr(cost=[("CT-01", "-500.00"), ("HW-01", "500.00")])
    p.approve_cr("CR-001")
    h.tick(days=20)
    p.progress("M-01", 100)
    p.accept("M-01")
    p.progress("M-02", 30)
    p.report()
    h.tick(days=10)
    p.report()
    assert h.findings() == []


# Segregation of duties ---------------------------------------------------------------------------


def test_sod_001_self_approval_of_an_expenditure_a_gate_and_a_milestone(h):
    h.grant("pm", "fiscal")
    h.grant("pm", "pmo")
    h.grant("pm", "sponsor")
    p = base(h)
    sub = p.exp("500.00")
    own = p.approve_exp("EXP-0001", by="pm")
    req = p.request("G0")
    sign = p.signoff("G0", by="pm", role="pmo")
    prog = p.progress("M-01", 100)
    acc = p.accept("M-01", by="pm")
    assert h.of("SOD-001") == [(CODE, (sub, own)), (CODE, (req, sign)), (CODE, (prog, acc))]


def test_sod_001_near_miss_another_person_decides(h):
    p = base(h)
    p.exp("500.00")
    p.approve_exp("EXP-0001", by="fiscal")
    p.request("G0")
    p.signoff("G0", by="pmo", role="pmo")
    p.progress("M-01", 100)
    p.accept("M-01", by="sponsor")
    p.exp("600.00")
    p.reject_exp("EXP-0002", by="fiscal")
    assert h.of("SOD-001") == []


def test_sod_001_rejecting_or_reversing_ones_own(h):
    h.grant("pm", "fiscal")
    p = base(h)
    a = p.exp("500.00")
    rej = p.reject_exp("EXP-0001", by="pm")
    b = p.exp("700.00")
    p.approve_exp("EXP-0002")
    rev = p.reverse_exp("EXP-0002", by="pm")
    assert h.of("SOD-001") == [(CODE, (a, rej)), (CODE, (b, rev))]


def test_sod_002_two_approvals_by_one_person(h):
    p = base(h)
    p.exp("30000.00")
    first = p.approve_exp("EXP-0001", completes=False)
    second = p.approve_exp("EXP-0001")
    assert h.of("SOD-002") == [(CODE, (first, second))]


def test_sod_002_near_miss_two_people(h):
    p = base(h)
    p.exp("30000.00")
    p.approve_exp("EXP-0001", completes=False)
    p.approve_exp("EXP-0001", by="fiscal2")
    assert h.of("SOD-002") == []


def test_sod_002_same_person_signs_a_gate_twice(h):
    h.grant("pmo", "sponsor")
    p = base(h)
    p.request("G0")
    first = p.signoff("G0", by="pmo", role="pmo")
    second = p.signoff("G0", by="pmo", role="sponsor")
    assert h.of("SOD-002") == [(CODE, (first, second))]


def test_sod_003_an_administrator_approving(h):
    grant = h.grant("fiscal2", "admin")
    p = base(h)
    p.exp("500.00")
    act = p.approve_exp("EXP-0001", by="fiscal2")
    assert h.of("SOD-003") == [(CODE, (grant, act))]


def test_sod_003_near_miss_admin_role_revoked_before(h):
    h.grant("fiscal2", "admin")
    h.revoke("fiscal2", "admin")
    p = base(h)
    p.exp("500.00")
    p.approve_exp("EXP-0001", by="fiscal2")
    assert h.of("SOD-003") == []


# Roles ----------------------------------------------------------------------------------------------


def test_role_001_acting_after_the_role_was_revoked(h):
    p = base(h)
    p.exp("500.00")
    p.exp("600.00")
    p.approve_exp("EXP-0001")  # near miss: still held
    revoked = h.revoke("fiscal", "fiscal")
    act = p.approve_exp("EXP-0002")
    assert h.of("ROLE-001") == [(CODE, (revoked, act))]


def test_role_001_never_granted_deactivated_and_project_scope(h):
    h.grant("pm2", "fiscal", project=OTHER)  # scoped to another project: no use here
    p = base(h)
    p.exp("500.00")
    p.exp("600.00")
    never = p.approve_exp("EXP-0001", by="pm2")
    gone = h.deactivate("fiscal2")
    late = p.approve_exp("EXP-0002", by="fiscal2")
    q = base(h, OTHER)
    q.exp("500.00", invoice="Q-1")
    q.approve_exp("EXP-0001", by="pm2")  # near miss: the scoped grant covers OTHER
    assert h.of("ROLE-001") == [(CODE, (never,)), (CODE, (gone, late))]


def test_role_001_policy_and_directory_acts(h):
    change = h.change_policy(by="fiscal", pending_days_limit=7)
    grant = h.grant("pm", "fiscal", by="pmo")
    h.change_policy(by="pmo", pending_days_limit=10)  # near miss
    assert h.of("ROLE-001") == [(None, (change,)), (None, (grant,))]


# Approvals and authority ------------------------------------------------------------------------------


@pytest.mark.parametrize("amount, fires", [("25000.00", False), ("25000.01", True)])
def test_apr_001_over_the_dual_threshold_with_one_approval(h, amount, fires):
    p = base(h)
    sub = p.exp(amount)
    app = p.approve_exp("EXP-0001")
    assert h.of("APR-001") == ([(CODE, (sub, app))] if fires else [])


@pytest.mark.parametrize("amount, fires", [("100000.00", False), ("100000.01", True)])
def test_apr_001_over_the_sponsor_threshold_without_the_sponsor(h, amount, fires):
    p = base(h)
    p.revise_line("HW-01", "200000.00")
    sub = p.exp(amount)
    a1 = p.approve_exp("EXP-0001", completes=False)
    a2 = p.approve_exp("EXP-0001", by="fiscal2")
    assert h.of("APR-001") == ([(CODE, (sub, a1, a2))] if fires else [])


def test_apr_001_a_purchase_order_over_the_threshold_with_one_approval(h):
    p = base(h)
    sub = p.po("PO-1", "25000.01")
    app = p.approve_po("PO-1")
    p.po("PO-2", "25000.00")
    p.approve_po("PO-2")
    assert h.of("APR-001") == [(CODE, (sub, app))]


def test_apr_001_judged_by_the_policy_in_force_at_the_time(h):
    p = base(h)
    h.change_policy(dual_fiscal_threshold=h.policy_rules["dual_fiscal_threshold"] * 2)
    p.exp("30000.00")
    p.approve_exp("EXP-0001")  # one approval was enough then
    h.change_policy(dual_fiscal_threshold=h.policy_rules["dual_fiscal_threshold"] / 2)
    sub = p.exp("30000.00")
    app = p.approve_exp("EXP-0002")
    assert h.of("APR-001") == [(CODE, (sub, app))]


def test_apr_001_an_approval_without_the_role_does_not_count(h):
    p = base(h)
    sub = p.exp("30000.00")
    a1 = p.approve_exp("EXP-0001", by="pm2", completes=False)  # pm2 is no fiscal officer
    a2 = p.approve_exp("EXP-0001", by="fiscal2")
    assert h.of("APR-001") == [(CODE, (sub, a1, a2))]


@pytest.mark.parametrize("amount, fires", [("100000.00", True), ("100000.01", False)])
def test_apr_002_sponsor_approving_below_their_authority(h, amount, fires):
    p = base(h)
    p.revise_line("HW-01", "200000.00")
    p.exp(amount)
    p.approve_exp("EXP-0001", completes=False)
    p.approve_exp("EXP-0001", by="fiscal2", completes=False)
    act = p.approve_exp("EXP-0001", by="sponsor", role="sponsor")
    assert h.of("APR-002") == ([(CODE, (act,))] if fires else [])


def test_apr_002_change_request_approved_in_the_wrong_role(h):
    p = base(h)
    p.cr(cost=[("HW-01", "100.00")])
    wrong = p.approve_cr("CR-001", by="pmo", role="pmo")
    h.change_policy(change_approver_role="pmo")
    p.cr(cost=[("HW-01", "100.00")])
    p.approve_cr("CR-002", by="pmo", role="pmo")  # near miss: the policy now says pmo
    assert h.of("APR-002") == [(CODE, (wrong,))]


def test_apr_002_gate_signed_in_a_role_the_gate_does_not_need(h):
    p = base(h)
    req = p.request("G0")  # G0 needs pmo and sponsor
    p.signoff("G0", by="pmo", role="pmo")
    odd = p.signoff("G0", by="fiscal", role="fiscal")
    assert h.of("APR-002") == [(CODE, (req, odd))]


@pytest.mark.parametrize("days, fires", [(30, False), (31, True)])
def test_apr_003_approval_long_after_submission(h, days, fires):
    p = base(h)
    sub = p.exp("500.00")
    h.tick(days=days)
    app = p.approve_exp("EXP-0001")
    assert h.of("APR-003") == ([(CODE, (sub, app))] if fires else [])


# Budget ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount, fires", [("4000.00", False), ("4000.01", True)])
def test_bud_001_a_line_overdrawn(h, amount, fires):
    p = h.project()
    p.line("HW-01", "10000.00")
    p.po("PO-1", "6000.00")
    p.approve_po("PO-1")
    p.exp(amount)
    act = p.approve_exp("EXP-0001")
    assert h.of("BUD-001") == ([(CODE, (act,))] if fires else [])


def test_bud_001_once_per_episode(h):
    p = h.project()
    p.line("HW-01", "1000.00")
    p.exp("1500.00")
    over = p.approve_exp("EXP-0001")
    p.exp("100.00")
    p.approve_exp("EXP-0002")  # still overdrawn: same episode
    p.reverse_exp("EXP-0001")
    p.reverse_exp("EXP-0002")
    p.exp("1200.00")
    again = p.approve_exp("EXP-0003")
    assert h.of("BUD-001") == [(CODE, (over,)), (CODE, (again,))]


def test_bud_002_contingency_spent_without_a_change_request(h):
    p = base(h)
    p.line("CT-01", "20000.00", category="contingency")
    sub = p.exp("500.00", line="CT-01")
    app = p.approve_exp("EXP-0001")
    req = p.transfer("CT-01", "HW-01", "1000.00")
    moved = p.approve_transfer("TR-001")
    assert h.of("BUD-002") == [(CODE, (sub, app)), (CODE, (req, moved))]


def test_bud_002_near_miss_released_by_an_approved_change_request(h):
    p = base(h)
    p.line("CT-01", "20000.00", category="contingency")
    p.cr(cost=[("CT-01", "-1000.00"), ("HW-01", "1000.00")])
    p.approve_cr("CR-001")
    p.exp("500.00", line="CT-01")
    p.approve_exp("EXP-0001")
    p.exp("500.00", line="HW-01")
    p.approve_exp("EXP-0002")
    assert h.of("BUD-002") == []


def test_bud_003_baseline_changed_after_g1_without_a_change_request(h):
    p = base(h)
    p.revise_line("HW-01", "90000.00")  # near miss: before G1
    p.gate("G0")
    g1 = p.gate("G1")["passed"]
    p.deliverable("D-9", change_request="CR-001")  # near miss: by change request
    edit = p.revise_line("HW-01", "120000.00")
    added = p.milestone("M-09", d("2026-01-01"), d("2026-02-01"), "1.00")
    assert h.of("BUD-003") == [(CODE, (g1, edit)), (CODE, (g1, added))]


# Purchasing and invoices ---------------------------------------------------------------------------------


@pytest.mark.parametrize("second, gap, fires", [
    ("12500.00", 14, False), ("12500.01", 14, True), ("12500.01", 15, False)])
def test_pur_001_split_purchase(h, second, gap, fires):
    p = base(h)
    a = p.exp("12500.00", vendor="Acme Ltd", invoice_date=d("2025-01-01"))
    p.approve_exp("EXP-0001")
    b = p.exp(second, vendor="ACME LTD", invoice_date=d("2025-01-01") + timedelta(days=gap))
    p.approve_exp("EXP-0002")
    p.exp("9000.00", vendor="Other Co", invoice_date=d("2025-01-02"))
    assert h.of("PUR-001") == ([(CODE, (a, b))] if fires else [])


def test_pur_001_split_purchase_orders_and_a_rejected_part(h):
    p = base(h)
    a = p.po("PO-1", "20000.00", vendor="Acme Ltd")
    h.tick(days=3)
    b = p.po("PO-2", "20000.00", vendor="Acme Ltd")
    p.exp("15000.00", vendor="Zed", invoice_date=d("2025-01-01"))
    p.exp("15000.00", vendor="Zed", invoice_date=d("2025-01-02"))
    p.reject_exp("EXP-0002")  # near miss: the second part was refused
    assert h.of("PUR-001") == [(CODE, (a, b))]


@pytest.mark.parametrize("amount, fires", [("10000.00", False), ("10000.01", True)])
def test_pur_002_expenditure_exceeding_what_its_po_has_left(h, amount, fires):
    p = base(h)
    po = p.po("PO-1", "10000.00")
    p.approve_po("PO-1")
    sub = p.exp(amount, po="PO-1")
    app = p.approve_exp("EXP-0001")
    assert h.of("PUR-002") == ([(CODE, (po, sub, app))] if fires else [])


def test_pur_002_what_is_left_after_earlier_invoices(h):
    p = base(h)
    po = p.po("PO-1", "10000.00")
    p.approve_po("PO-1")
    p.exp("6000.00", po="PO-1")
    p.approve_exp("EXP-0001")
    sub = p.exp("4000.01", po="PO-1")
    app = p.approve_exp("EXP-0002")
    assert h.of("PUR-002") == [(CODE, (po, sub, app))]


@pytest.mark.parametrize("invoice_day, fires", [(0, False), (-1, True)])
def test_pur_003_invoice_dated_before_its_po_was_approved(h, invoice_day, fires):
    p = base(h)
    p.po("PO-1", "10000.00")
    approved = p.approve_po("PO-1")
    sub = p.exp("500.00", po="PO-1", invoice_date=h.today + timedelta(days=invoice_day))
    assert h.of("PUR-003") == ([(CODE, (approved, sub))] if fires else [])


def test_pur_003_invoice_cited_before_the_po_was_approved_at_all(h):
    p = base(h)
    p.po("PO-1", "10000.00")
    sub = p.exp("500.00", po="PO-1", invoice_date=h.today)
    h.tick(days=2)
    approved = p.approve_po("PO-1")
    assert h.of("PUR-003") == [(CODE, (sub, approved))]


def test_inv_001_the_same_vendor_invoice_twice_across_projects(h):
    p = base(h)
    q = base(h, OTHER)
    first = p.exp("500.00", vendor="Dell Technologies", invoice="D-77")
    again = q.exp("500.00", vendor="dell technologies", invoice="D-77")
    assert h.of("INV-001") == [(OTHER, (first, again))]


def test_inv_001_near_miss_resubmitted_after_rejection(h):
    p = base(h)
    p.exp("500.00", invoice="D-77")
    p.reject_exp("EXP-0001")
    p.exp("500.00", invoice="D-77")
    p.exp("500.00", invoice="D-78")
    p.exp("500.00", invoice="D-77", vendor="HP Inc")
    assert h.of("INV-001") == []


@pytest.mark.parametrize("invoice_date, fires", [
    ("2026-06-30", False), ("2026-07-01", True), ("2025-01-01", False), ("2024-12-31", True)])
def test_inv_002_invoice_dated_outside_the_project_life(h, invoice_date, fires):
    p = base(h)
    sub = p.exp("500.00", invoice_date=d(invoice_date))
    assert h.of("INV-002", today=h.today) == ([(CODE, (sub,))] if fires else [])


@pytest.mark.parametrize("amount, doc, fires", [
    ("25000.00", None, False), ("25000.01", None, True), ("25000.01", "cd" * 32, False)])
def test_inv_003_over_threshold_without_the_invoice_document(h, amount, doc, fires):
    p = base(h)
    sub = p.exp(amount, doc=doc)
    assert h.of("INV-003") == ([(CODE, (sub,))] if fires else [])


# Gates and change control ----------------------------------------------------------------------------------


def test_gate_001_gate_passed_without_every_required_signer(h):
    p = base(h)
    req = p.request("G0")
    s1 = p.signoff("G0", by="sponsor", role="sponsor")
    passed = p.passed("G0")
    assert h.of("GATE-001") == [(CODE, (req, s1, passed))]


def test_gate_001_a_signer_without_the_role_does_not_count(h):
    p = base(h)
    req = p.request("G0")
    s1 = p.signoff("G0", by="sponsor", role="sponsor")
    s2 = p.signoff("G0", by="pm2", role="pmo")
    passed = p.passed("G0")
    assert h.of("GATE-001") == [(CODE, (req, s1, s2, passed))]


def test_gate_001_near_miss_every_signer(h):
    p = base(h)
    p.gate("G0")
    p.gate("G1")
    assert h.of("GATE-001") == []


def test_gate_002_conditions_still_open_at_the_next_gate(h):
    p = base(h)
    g0 = p.gate("G0", conditions="confirm hosting costs by G1")["passed"]
    g1 = p.gate("G1")["passed"]
    p.gate("G2")  # near miss: G1 passed without conditions
    assert h.of("GATE-002") == [(CODE, (g0, g1))]


def test_gate_002_near_miss_conditions_met_before_the_next_gate(h):
    """Regression: conditions recorded as met used to stay open for GATE-002."""
    p = base(h)
    p.gate("G0", conditions="confirm hosting costs by G1")
    p.conditions_met("G0", ["confirm hosting costs by G1"], by="pmo")
    p.gate("G1")
    assert h.of("GATE-002") == []
    assert h.of("ROLE-001") == []


@pytest.mark.parametrize("days, fires", [(14, False), (15, True)])
def test_cr_001_change_request_pending_too_long(h, days, fires):
    p = base(h)
    sub = p.cr(cost=[("HW-01", "100.00")])
    p.cr(cost=[("HW-01", "50.00")])
    p.approve_cr("CR-002")
    today = h.today + timedelta(days=days)
    assert h.of("CR-001", today=today) == ([(CODE, (sub,))] if fires else [])


def test_cr_001_uses_the_current_policy_limit(h):
    p = base(h)
    sub = p.cr(cost=[("HW-01", "100.00")])
    h.change_policy(pending_days_limit=7)
    assert h.of("CR-001", today=h.today + timedelta(days=8)) == [(CODE, (sub,))]


@pytest.mark.parametrize("days, fires", [(14, False), (15, True)])
def test_que_001_invoice_po_or_transfer_awaiting_a_decision_too_long(h, days, fires):
    p = base(h)
    e = p.exp("500.00")
    po = p.po("PO-1", "900.00")
    p.line("LB-01", "1000.00", category="labour")
    tr = p.transfer("HW-01", "LB-01", "10.00")
    p.exp("600.00")
    p.approve_exp("EXP-0002")  # decided: never counted
    expected = [(CODE, (e,)), (CODE, (po,)), (CODE, (tr,))] if fires else []
    assert h.of("QUE-001", today=h.today + timedelta(days=days)) == expected


def test_que_001_on_a_closed_project_counts_to_the_closure(h):
    p = base(h)
    e = p.exp("500.00")
    h.tick(days=15)
    p.close()
    q = base(h, OTHER)
    q.exp("500.00", invoice="Q-1")
    h.tick(days=10)
    q.close()  # pending 10 days at closure: within the limit
    assert h.of("QUE-001", today=h.today + timedelta(days=400)) == [(CODE, (e,))]


def test_cls_001_financial_activity_after_closure(h):
    p = base(h)
    p.exp("500.00")
    p.approve_exp("EXP-0001")
    for gate in ("G0", "G1", "G2", "G3"):
        p.gate(gate)
    closed = p.gate("G4")["closed"]
    p.reverse_exp("EXP-0001")  # near miss: reversals stay allowed
    late = p.exp("700.00")
    p.cr(cost=[("HW-01", "100.00")])
    cost = p.approve_cr("CR-001")
    p.cr(schedule=[{"milestone": "M-01", "planned_finish": d("2026-07-31")}])
    p.approve_cr("CR-002")  # near miss: no money moves
    assert h.of("CLS-001") == [(CODE, (closed, late)), (CODE, (closed, cost))]


# Reporting and schedule ------------------------------------------------------------------------------------


@pytest.mark.parametrize("days, fires", [(35, False), (36, True)])
def test_rpt_001_no_status_report_for_over_35_days(h, days, fires):
    p = base(h)
    rep = p.report()
    assert h.of("RPT-001", today=h.today + timedelta(days=days)) == (
        [(CODE, (rep,))] if fires else [])


def test_rpt_001_counts_from_the_charter_and_not_for_closed_projects(h):
    p = base(h)
    q = base(h, OTHER)
    for gate in ("G0", "G1", "G2", "G3", "G4"):
        q.gate(gate)
    assert h.of("RPT-001", today=h.today + timedelta(days=36)) == [(CODE, (p.chartered,))]


def ev_project(h: History, spent: str) -> tuple[Proj, int]:
    """A 10,000.00 milestone fully planned by today and 90% done: EV 9,000.00, SPI 0.900
    (amber); AC `spent`, so CPI is amber at 10,000.00 and red above."""
    p = h.project()
    p.line("HW-01", "50000.00")
    p.milestone("M-01", d("2025-01-01"), d("2025-01-06"), "10000.00")
    p.progress("M-01", 90)
    p.exp(spent)
    last = p.approve_exp("EXP-0001")
    return p, last


@pytest.mark.parametrize("spent, fires", [("10000.00", False), ("10000.01", True)])
def test_rpt_002_red_cpi_with_no_status_report_since(h, spent, fires):
    p, last = ev_project(h, spent)
    assert h.of("RPT-002") == ([(CODE, (last,))] if fires else [])


def test_rpt_002_a_report_that_shows_the_red_band_covers_it(h):
    p, last = ev_project(h, "10000.01")
    p.report(overall="red", budget="red")
    assert h.of("RPT-002") == []


def test_rpt_002_an_earlier_report_before_it_went_red_does_not(h):
    p = h.project()
    p.line("HW-01", "50000.00")
    p.milestone("M-01", d("2025-01-01"), d("2025-01-06"), "10000.00")
    p.progress("M-01", 90)
    rep = p.report()
    p.exp("10000.01")
    last = p.approve_exp("EXP-0001")
    assert h.of("RPT-002") == [(CODE, (rep, last))]


@pytest.mark.parametrize("spent, fires", [("10000.00", False), ("10000.01", True)])
def test_rpt_003_green_report_while_the_computed_band_is_red(h, spent, fires):
    p, _ = ev_project(h, spent)
    rep = p.report(overall="green", budget="green")
    p.report(overall="red", budget="red")  # near miss: honest
    assert h.of("RPT-003") == ([(CODE, (rep,))] if fires else [])


def test_ms_001_milestone_past_its_finish_and_not_complete(h):
    p = h.project()
    late = p.milestone("M-01", d("2025-01-01"), d("2025-01-05"), "100.00")
    prog = p.progress("M-01", 99)
    p.milestone("M-02", d("2025-01-01"), d("2025-01-05"), "100.00")
    p.progress("M-02", 100)  # near miss: complete
    p.milestone("M-03", d("2025-01-01"), h.today, "100.00")  # near miss: finishes today
    p.milestone("M-04", d("2025-01-01"), d("2025-01-03"), "100.00")
    moved = p.revise_milestone("M-04", planned_finish=d("2025-01-04"))
    assert h.of("MS-001") == [(CODE, (late, prog)), (CODE, (moved,))]


@pytest.mark.parametrize("days, fires", [(90, False), (91, True)])
def test_time_001_back_dated_act(h, days, fires):
    p = base(h)
    sub = p.exp("500.00", invoice_date=h.today - timedelta(days=days))
    prog = p.progress("M-01", 10, h.today - timedelta(days=days))
    assert h.of("TIME-001") == ([(CODE, (sub,)), (CODE, (prog,))] if fires else [])


# The history itself and the ledger -------------------------------------------------------------------------


def test_hist_001_an_approval_of_nothing(h):
    p = base(h)
    bogus = p.approve_exp("EXP-0042", liquidates="0.00")
    assert h.of("HIST-001") == [(CODE, (bogus,))]


def test_hist_001_an_event_for_a_project_never_chartered(h):
    p = base(h)
    h.versions.pop(p.id)
    h.log = [(pos, at, e) for pos, at, e in h.log if getattr(e, "originator_id", None) != p.id]
    stray = p.exp("500.00")
    assert h.of("HIST-001") == [(None, (stray,))]


def test_ledger_faults_become_findings():
    from ledger.verify import Fault

    class Report:
        faults = [Fault(7, "abc", 2, "bad-signature", "does not verify"),
                  Fault(None, None, None, "truncated", "log shorter than checkpoint"),
                  Fault(3, "def", 1, "chain-break", "link broken")]

    found = findings_from_verification(Report())
    assert [(f.rule_id, f.severity, f.project, f.evidence) for f in found] == [
        ("LEDGER-truncated", "high", None, ()),
        ("LEDGER-chain-break", "high", None, (3,)),
        ("LEDGER-bad-signature", "high", None, (7,)),
    ]


# The evaluator as a projection uses it ---------------------------------------------------------------------


def test_every_catalogued_rule_is_tested_here():
    source = open(__file__, encoding="utf-8").read()
    missing = [r for r in RULES if f'"{r}"' not in source]
    assert missing == []


def test_incremental_equals_batch_and_positions_are_not_counted_twice(h):
    p = base(h)
    p.exp("30000.00", doc=None)
    p.approve_exp("EXP-0001", by="pm")
    ev = ComplianceEvaluator(today=h.today)
    seen: list[list[Finding]] = []
    for position, at, event in h.log:
        ev.apply(position, at, event)
        ev.apply(position, at, event)  # a redelivery changes nothing
        seen.append(ev.findings())
    assert seen[-1] == evaluate(h.log, today=h.today)
    assert {f.rule_id for f in seen[-1]} == {"SOD-001", "ROLE-001", "APR-001", "INV-003",
                                             "RPT-002"}
    assert seen[-1] == sorted(seen[-1], key=Finding.sort_key)


def test_messages_name_project_people_amounts_and_lines(h):
    p = base(h)
    p.exp("30000.00")
    p.approve_exp("EXP-0001")
    (finding,) = [f for f in h.findings() if f.rule_id == "APR-001"]
    assert finding.severity == "high"
    assert finding.message == (
        "expenditure EXP-0001 (30,000.00 USD, Dell Technologies invoice INV-1, line HW-01) on "
        "IT-2026-014 was approved by Fay Fiscal as fiscal; the policy then required two "
        "different fiscal officers (over 25,000.00)")


def test_time_based_rules_move_with_the_day_without_a_replay(h):
    p = base(h)
    rep = p.report()
    ev = ComplianceEvaluator(today=h.today)
    for position, at, event in h.log:
        ev.apply(position, at, event)
    assert [f for f in ev.findings() if f.rule_id == "RPT-001"] == []
    later = ev.findings(today=h.today + timedelta(days=36))
    assert [(f.rule_id, f.evidence) for f in later if f.rule_id == "RPT-001"] == [
        ("RPT-001", (rep,))]
    ev.today = h.today + timedelta(days=36)
    assert ev.findings() == later


def test_today_defaults_to_the_utc_date_of_now():
    assert ComplianceEvaluator(now=datetime(2025, 5, 1, 23, 30, tzinfo=UTC)).today == date(2025, 5, 1)
    assert ComplianceEvaluator().today == datetime.now(UTC).date()


# A real ledger, streamed from its chain --------------------------------------------------------------------


def test_a_real_ledger_streamed_through_the_evaluator(world):
    from decimal import Decimal
    from uuid import UUID

    from eventsourcing.persistence import StoredEvent

    from domain.common import APPROVAL, Who
    from domain.project import Project

    app, pm, fiscal = world.app, world.pm, world.fiscal
    today = datetime.now(UTC).date()
    world.charter(start_date=today - timedelta(days=60), target_finish=today + timedelta(days=300))
    app.add_budget_line(pm, CODE, line="HW-01", name="Servers", category="hardware",
                        amount="50000.00")
    app.add_milestone(pm, CODE, milestone="M-01", name="Design",
                      planned_start=today + timedelta(days=10),
                      planned_finish=today + timedelta(days=100), budgeted_value="50000.00")
    app.submit_commitment(pm, CODE, po_number="PO-1", vendor="Dell", line="HW-01",
                          amount="10000.00")
    app.approve_commitment(fiscal, CODE, "PO-1")
    # The services allow an invoice dated before its PO: an after-the-fact PO.
    exp1 = app.submit_expenditure(pm, CODE, line="HW-01", amount="2000.00", vendor="Dell",
                                  invoice_number="D-1", invoice_date=today - timedelta(days=5),
                                  description="servers", po_number="PO-1")
    app.approve_expenditure(fiscal, CODE, exp1)
    exp2 = app.submit_expenditure(pm, CODE, line="HW-01", amount="700.00", vendor="Dell",
                                  invoice_number="D-2", invoice_date=today, description="cables")
    exp3 = app.submit_expenditure(pm, CODE, line="HW-01", amount="300.00", vendor="HP",
                                  invoice_number="H-1", invoice_date=today, description="mice")
    app.revoke_role(world.admin, "fiscal2", "fiscal", reason="moved to another department")

    def behind_the_back(actor, expenditure_id):
        """Approve straight on the aggregate, past the services' checks, signed by `actor`."""
        project = app.project(CODE)
        project.trigger_event(Project.ExpenditureApproved, expenditure_id=expenditure_id,
                              role="fiscal", reason="", completes_approval=True,
                              liquidates=Decimal("0.00"),
                              **Who(actor.user_id, actor.name).signed(APPROVAL))
        app.save(project, signer=actor.signer)

    behind_the_back(pm, exp2)  # the PM approves their own invoice
    behind_the_back(world.fiscal2, exp3)  # after their fiscal role was revoked

    log = []
    for row in app.read_chain(1, app.size()):
        stored = StoredEvent(originator_id=UUID(str(row.originator_id)),
                             originator_version=row.originator_version, topic=row.topic,
                             state=row.state)
        event = app.mapper.to_domain_event(stored)
        log.append((row.position, event.timestamp, event))

    def at(kind, **match):
        (pos,) = [p for p, _, e in log if type(e).__name__ == kind
                  and all(getattr(e, k, None) == v for k, v in match.items())]
        return pos

    po_ok = at("CommitmentApproved", po_number="PO-1")
    sub1 = at("ExpenditureSubmitted", expenditure_id=exp1)
    sub2 = at("ExpenditureSubmitted", expenditure_id=exp2)
    own = at("ExpenditureApproved", expenditure_id=exp2)
    sub3 = at("ExpenditureSubmitted", expenditure_id=exp3)
    revoked = at("RoleRevoked", username="fiscal2")
    late = at("ExpenditureApproved", expenditure_id=exp3)
    found = [(f.rule_id, f.project, f.evidence) for f in evaluate(log, today=today)]
    assert found == [
        ("PUR-003", CODE, (po_ok, sub1)),
        ("APR-001", CODE, (sub2, own)),  # an approval without the role does not count
        ("SOD-001", CODE, (sub2, own)),
        ("APR-001", CODE, (sub3, late)),
        ("ROLE-001", CODE, (revoked, late)),
        ("ROLE-001", CODE, (own,)),  # the PM holds no fiscal role
        ("RPT-002", CODE, (late,)),  # 3,000.00 spent, nothing earned yet: CPI 0
    ]


def test_the_split_purchase_window_ends_at_the_last_representable_date():
    from datetime import date

    from domain.compliance.evaluator import _days_after

    assert _days_after(date(2025, 1, 1), 14) == date(2025, 1, 15)
    assert _days_after(date.max - timedelta(days=3), 14) == date.max
