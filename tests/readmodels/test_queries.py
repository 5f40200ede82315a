"""What the read models answer: review queues, the approvals register, the audit trail
(with key status), budget by line, the portfolio, and compliance findings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.common import Who
from domain.errors import NotFoundError, ValidationError
from domain.readmodels import ReadModels
from domain.readmodels.runner import IntegrityFaultError
from tests.domain.helpers import PW, World
from tests.readmodels.support import NOW, FakeEvaluator, models_for
from tests.support import record_directly

D = Decimal


def queue(models, role: str) -> list[tuple]:  # noqa: ANN001
    return [(q.kind, q.item, q.approvals) for q in models.queue(role)]


def test_review_queues_follow_the_thresholds_and_the_gates(world: World) -> None:
    code = world.baseline()
    app = world.app
    big = world.expenditure("120000.00", line="LB-01", invoice="INV-B")  # over 100,000
    mid = world.expenditure("30000.00", invoice="INV-M")  # over 25,000: two fiscal officers
    transfer = app.request_budget_transfer(world.pm, code, from_line="LB-01", to_line="HW-01",
                                           amount="1000.00", reason="more servers")
    models = models_for(app)
    assert queue(models, "fiscal") == [("expenditure", big, 0), ("expenditure", mid, 0),
                                       ("transfer", transfer, 0)]
    app.approve_expenditure(world.fiscal, code, mid)
    app.approve_expenditure(world.fiscal, code, big)
    app.approve_expenditure(world.fiscal2, code, big)
    assert queue(models, "fiscal") == [("expenditure", mid, 1), ("transfer", transfer, 0)]
    assert queue(models, "sponsor") == [("expenditure", big, 2)]  # its turn now
    app.approve_expenditure(world.sponsor, code, big)
    assert queue(models, "sponsor") == []

    app.request_gate_review(world.pm, code, "G0", artifacts=[{"name": "charter.pdf"}])
    assert queue(models, "pmo") == [("gate-signoff", "G0", 0)]
    app.sign_off_gate(world.pmo, code, "G0", decision="approved")
    assert queue(models, "pmo") == []
    assert queue(models, "sponsor") == [("gate-signoff", "G0", 1)]

    cr = app.submit_change_request(world.pm, code, title="More disk", description="d",
                                   justification="j", cost_impacts=[{"line": "HW-01", "amount": "500.00"}])
    assert ("change-request", cr, 0) in queue(models, "sponsor")
    with pytest.raises(ValidationError):
        models.queue("nobody")


def test_the_approvals_register_names_every_signer_with_time_and_meaning(world: World) -> None:
    code = world.baseline()
    app = world.app
    e1, e2 = world.expenditure("100.00", invoice="A"), world.expenditure("200.00", invoice="B")
    app.approve_expenditure(world.fiscal, code, e1, reason="ok")
    app.reject_expenditure(world.fiscal2, code, e2, reason="no receipt")
    register = models_for(app).approvals(code)
    assert [(a.item, a.decision, a.actor_name, a.role, a.meaning, a.reason) for a in register] == [
        (e1, "approved", "Fay Fiscal", "fiscal", "approval", "ok"),
        (e2, "rejected", "Finn Fiscal", None, "review", "no receipt"),
    ]
    assert all(a.recorded_at.tzinfo == UTC and a.key_status == "valid" for a in register)


def test_the_audit_trail_per_field_old_new_who_when_why(world: World) -> None:
    code = world.baseline()
    app = world.app
    app.amend_charter(world.pm, code, {"title": "Permits and licences"}, reason="scope grew")
    e = world.expenditure("1500.00", invoice="INV-9")
    app.approve_expenditure(world.fiscal, code, e)
    models = models_for(app)

    (title,) = models.audit_trail(code, "charter.title")[1:]
    assert (title.old_value, title.new_value) == ("Online permits portal", "Permits and licences")
    assert (title.actor_name, title.reason, title.event) == ("Pat Manager", "scope grew", "CharterAmended")
    assert title.recorded_at.tzinfo == UTC and title.key_status == "valid"

    spent = models.audit_trail(code, "lines.HW-01.spent")
    assert [(a.old_value, a.new_value, a.actor_id) for a in spent] == [("0.00", "1500.00", "fiscal")]
    line = {a.field for a in models.audit_trail(code, "lines.HW-01")}
    assert {"lines.HW-01.pending", "lines.HW-01.spent", "lines.HW-01.original"} <= line
    status = [(a.old_value, a.new_value) for a in models.audit_trail(code, f"expenditures.{e}.status")]
    assert status == [(None, "pending"), ("pending", "approved")]
    everything = models.audit_trail(code)
    assert [a.position for a in everything] == sorted(a.position for a in everything)
    with pytest.raises(NotFoundError):
        models.audit_trail("IT-2099-001")


def test_an_act_signed_with_a_revoked_key_never_enters_the_read_models(world: World) -> None:
    """It used to be projected with key_status "revoked-key"; a position that fails its
    check is now a fault the read models stop before (issue 16), and say so."""
    code = world.baseline()
    old = world.pm.signer
    world.app.reissue_key(world.admin, "pm", passphrase=PW, reason="laptop stolen")
    project = world.app.project(code)
    project.raise_risk(title="Stolen laptop", probability=5, impact=5, owner="pm",
                       mitigation="reissue", description="", by=Who("pm", "Pat Manager", ("pm",)))
    record_directly(world.app, project, old)  # behind the services' back
    forged = world.app.size()
    with pytest.raises(IntegrityFaultError, match=f"position {forged} \\(revoked-key\\)"):
        models_for(world.app).audit_trail(code, "risks")
    stopped = models_for(world.app, on_fault="stop")
    assert stopped.audit_trail(code, "risks") == []
    assert stopped.audit_trail(code, "charter.title")[0].key_status == "valid"


def test_budget_by_line_and_portfolio_summary(world: World) -> None:
    code = world.locked()
    app = world.app
    po = app.submit_commitment(world.pm, code, po_number="PO-1", vendor="Dell", line="HW-01",
                               amount="10000.00")
    app.approve_commitment(world.fiscal, code, po)
    app.approve_expenditure(world.fiscal, code, world.expenditure("4000.00", po_number="PO-1"))
    world.expenditure("700.00", invoice="INV-P")
    tr = app.request_budget_transfer(world.pm, code, from_line="LB-01", to_line="HW-01",
                                     amount="5000.00", reason="more kit")
    app.approve_budget_transfer(world.fiscal, code, tr)
    cr = app.submit_change_request(world.pm, code, title="Licences", description="d",
                                   justification="j", cost_impacts=[{"line": "LB-01", "amount": "-2000.00"}])
    app.approve_change_request(world.sponsor, code, cr)
    models = models_for(app)
    hw, lb = models.budget(code)
    assert (hw.original, hw.transferred, hw.cr_adjusted, hw.current) == (
        D("50000.00"), D("5000.00"), D("0.00"), D("55000.00"))
    # PO 10,000 of which 4,000 liquidated by the invoice: 6,000 still committed.
    assert (hw.committed, hw.spent, hw.pending, hw.available) == (
        D("6000.00"), D("4000.00"), D("700.00"), D("45000.00"))
    assert (lb.transferred, lb.cr_adjusted, lb.current) == (D("-5000.00"), D("-2000.00"), D("193000.00"))
    summary = models.summary(code, date(2025, 3, 1))
    assert (summary.facts.budget, summary.facts.committed, summary.facts.spent) == (
        D("248000.00"), D("6000.00"), D("4000.00"))
    assert summary.facts.next_gate == "G2" and summary.facts.status == "active"
    assert [s.facts.project for s in models.portfolio()] == [code]
    assert models.replay(code, position=app.size()).lines == models.budget(code)


def test_compliance_findings_are_the_rules_engine_over_the_whole_log(world: World) -> None:
    from domain.compliance import evaluate

    code = world.baseline()
    world.expenditure("1000.00", invoice="INV-OLD", invoice_date=date(2024, 1, 1))  # long ago
    models = models_for(world.app, batch=4)  # compliance batches of 20: several rounds
    stored = models.findings()
    log = [(r.position, e.timestamp, e) for r, e in models.compliance.read(1, world.app.size())]
    expected = evaluate(log, now=NOW)
    assert [(f.rule_id, f.project, f.evidence) for f in stored] == [
        (f.rule_id, f.project, f.evidence) for f in expected]
    assert any(f.project == code for f in stored)
    assert models.findings("IT-2099-001") == []


def test_time_based_findings_are_judged_again_on_a_new_day(world: World) -> None:
    world.baseline()
    now = [NOW]

    def ticking() -> datetime:
        return now[0]

    FakeEvaluator.instances.clear()
    models = ReadModels(world.app, evaluator=FakeEvaluator, clock=ticking)
    models.findings()
    assert len(FakeEvaluator.instances) == 1
    models.findings()
    assert len(FakeEvaluator.instances) == 1  # same day: nothing to judge again
    now[0] = NOW + timedelta(days=1)
    models.findings()
    assert len(FakeEvaluator.instances) == 2  # a new day: a fresh evaluator, re-fed
    assert FakeEvaluator.instances[-1].fed == list(range(1, world.app.size() + 1))
    assert FakeEvaluator.instances[-1].now == now[0]


def test_the_audit_trail_is_worked_out_on_demand_and_shows_a_new_write_at_once(any_world: World) -> None:
    world = any_world
    code = world.baseline()
    app = world.app
    models = models_for(app)
    before = models.audit_trail(code)
    assert {"charter", "lines.HW-01"} <= set(models.audit_items(code))
    app.amend_charter(world.pm, code, {"title": "Permits and licences"}, reason="scope grew")
    (title,) = models.audit_trail(code, "charter.title")[1:]  # the cached trail, extended
    assert (title.old_value, title.new_value, title.reason) == (
        "Online permits portal", "Permits and licences", "scope grew")
    after = models.audit_trail(code)
    assert after[:len(before)] == before and after[len(before):] == [
        a for a in after if a.position == title.position]
    assert models_for(app).audit_trail(code) == after  # a new process: from the log
    models.rebuild()
    assert models.audit_trail(code) == after


def test_rows_with_tabs_newlines_and_backslashes_are_stored_as_they_are(any_world: World) -> None:
    models = models_for(any_world.app)
    models.catch_up()
    awkward = [("tab", "a\tb"), ("newline", "a\nb\r\nc"), ("backslash", "a\\b\\N"),
               ("null-looking", "\\N"), ("none", None), ("unicode", "Zürich €")]
    with models.store.writing("schema") as w:
        w.insert("meta", [(k, v if v is not None else "") for k, v in awkward])
    rows = dict(models.store.fetch("SELECT name, value FROM {meta} WHERE name <> ?", ("x",)))
    assert {k: rows[k] for k, _ in awkward} == {k: v if v is not None else "" for k, v in awkward}
    # NULLs next to values with a backslash or a tab, and integers, in a wider table.
    row = (10**9, 10**9, "oid", 7, "Awkward", None, "a\\b", None, "x\ty\\N", None,
           "2026-01-01T00:00:00.000000Z", "key", "valid")
    with models.store.writing("schema") as w:
        w.insert("events", [row])
    assert models.store.fetch("SELECT * FROM {events} WHERE position = ?", (10**9,)) == [row]
