"""Property: for random valid histories, the read models maintained incrementally (caught
up at random points), a rebuild from zero, and "as of the last position" agree exactly --
on SQLite and on PostgreSQL. So does the audit trail, extended at each catch-up or worked
out in one go.

Each example adds a new project to the same ledger, so later examples also check that
earlier projects' rows survive, and rebuilds cover the whole accumulated log.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.project import Project
from domain.readmodels import ReadModels
from tests.domain.helpers import World
from tests.readmodels.support import NOW, FakeEvaluator, dump, models_for

DAY0 = date(2025, 1, 1)
FISCAL = ["fiscal", "fiscal2", "sponsor", "fiscal"]
# Mostly small amounts (approvals complete), sometimes over the thresholds.
amounts = st.one_of(st.integers(1, 2_000_000), st.integers(1, 15_000_000)).map(
    lambda c: Decimal(c).scaleb(-2))
_codes = itertools.count(1)


def pick(items: dict[str, Any], index: int) -> str:
    keys = sorted(items)
    return keys[index % len(keys)] if keys else "none"


def _expenditure(w: World, c: str, p: Project, i: int, j: int, a: Decimal) -> Any:
    po = pick(p.commitments, i) if j == 0 and p.commitments else None
    line = p.commitments[po]["line"] if po else pick(p.lines, i)
    return w.app.submit_expenditure(
        w.pm, c, line=line, amount=a, vendor="Acme", po_number=po, description="d",
        invoice_number=f"INV-{len(p.expenditures)}", invoice_date=DAY0 + timedelta(days=i * 7))


def _approved(w: World, c: str, approve: Any, item: str) -> None:
    """Approve in the order the thresholds ask: fiscal, a second fiscal, the sponsor."""
    for who in ("fiscal", "fiscal2", "sponsor"):
        try:
            approve(w.actor(who), c, item)
        except DomainError:
            return


def _spend(w: World, c: str, p: Project, i: int, j: int, a: Decimal) -> Any:
    _approved(w, c, w.app.approve_expenditure, _expenditure(w, c, p, i, j, a))


def _purchase(w: World, c: str, p: Project, i: int, j: int, a: Decimal) -> Any:
    po = w.app.submit_commitment(w.pm, c, po_number=f"PO-{len(p.commitments)}", vendor="Acme",
                                 line=pick(p.lines, i), amount=a)
    _approved(w, c, w.app.approve_commitment, po)


def _signoff(w: World, c: str, p: Project, j: int) -> Any:
    gate = p.next_gate or "G4"
    roles = p.gates[gate]["required_roles"] or ["sponsor"]
    decision = "approved-with-conditions" if j == 3 else "approved"
    return w.app.sign_off_gate(w.actor(roles[j % len(roles)]), c, gate, decision=decision,
                               conditions="fix it" if j == 3 else "")


def _cr(w: World, c: str, p: Project, i: int, j: int, a: Decimal) -> Any:
    impact = {"line": pick(p.lines, i), "amount": -a if j % 2 else a}
    return w.app.submit_change_request(w.pm, c, title="CR", description="d", justification="j",
                                       cost_impacts=[impact], scope_impact="")


# (world, code, project as loaded now, i, j, amount) -> one command
COMMANDS = {
    "line": lambda w, c, p, i, j, a: w.app.add_budget_line(
        w.pm, c, line=f"L-{len(p.lines)}", name="Line", category="hardware", amount=a * 10),
    "revise_line": lambda w, c, p, i, j, a: w.app.revise_budget_line(
        w.pm, c, pick(p.lines, i), amount=a * 20, reason="re-estimate"),
    "milestone": lambda w, c, p, i, j, a: w.app.add_milestone(
        w.pm, c, milestone=f"M-{len(p.milestones)}", name="m", planned_start=DAY0,
        planned_finish=DAY0 + timedelta(days=i * 7), budgeted_value=a),
    "expenditure": _expenditure,
    "spend": _spend,
    "purchase": _purchase,
    "approve_e": lambda w, c, p, i, j, a: w.app.approve_expenditure(
        w.actor(FISCAL[j]), c, pick(p.expenditures, i)),
    "reject_e": lambda w, c, p, i, j, a: w.app.reject_expenditure(
        w.actor(FISCAL[j]), c, pick(p.expenditures, i), reason="no receipt"),
    "reverse_e": lambda w, c, p, i, j, a: w.app.reverse_expenditure(
        w.actor(FISCAL[j]), c, pick(p.expenditures, i), reason="duplicate"),
    "commitment": lambda w, c, p, i, j, a: w.app.submit_commitment(
        w.pm, c, po_number=f"PO-{len(p.commitments)}", vendor="Acme", line=pick(p.lines, i), amount=a),
    "approve_c": lambda w, c, p, i, j, a: w.app.approve_commitment(
        w.actor(FISCAL[j]), c, pick(p.commitments, i)),
    "close_c": lambda w, c, p, i, j, a: w.app.close_commitment(
        w.actor(FISCAL[j]), c, pick(p.commitments, i), reason="done"),
    "transfer": lambda w, c, p, i, j, a: w.app.request_budget_transfer(
        w.pm, c, from_line=pick(p.lines, i), to_line=pick(p.lines, i + j + 1), amount=a,
        reason="rebalance"),
    "approve_t": lambda w, c, p, i, j, a: w.app.approve_budget_transfer(
        w.actor(FISCAL[j]), c, pick(p.transfers, i)),
    "progress": lambda w, c, p, i, j, a: w.app.report_progress(
        w.pm, c, pick(p.milestones, i), percent=(i * 7) % 101, as_of=DAY0 + timedelta(days=i)),
    "risk": lambda w, c, p, i, j, a: w.app.raise_risk(
        w.pm, c, title=f"Risk {i}", probability=j + 1, impact=j + 2, owner="o", mitigation="m"),
    "cr": _cr,
    "approve_cr": lambda w, c, p, i, j, a: w.app.approve_change_request(
        w.sponsor, c, pick(p.change_requests, i)),
    "withdraw_cr": lambda w, c, p, i, j, a: w.app.withdraw_change_request(
        w.pm, c, pick(p.change_requests, i), reason="not needed"),
    "gate": lambda w, c, p, i, j, a: w.app.request_gate_review(
        w.pm, c, p.next_gate or "G4", artifacts=[{"name": "pack"}]),
    "signoff": lambda w, c, p, i, j, a: _signoff(w, c, p, j),
    "report": lambda w, c, p, i, j, a: w.app.publish_status_report(
        w.pm, c, period_start=DAY0, period_end=DAY0 + timedelta(days=i * 7), overall="green",
        schedule="amber", budget="red", scope="green", summary="s"),
    "amend": lambda w, c, p, i, j, a: w.app.amend_charter(
        w.pm, c, {"title": f"Title {i}"}, reason="clearer"),
    "policy": lambda w, c, p, i, j, a: w.app.change_policy(
        w.pmo, {"dual_fiscal_threshold": a + 1}, reason="tune"),
}
ops = st.tuples(st.sampled_from(sorted(COMMANDS)), st.integers(0, 50), st.integers(0, 3), amounts)


def start_project(w: World, code: str) -> None:
    w.charter(code)
    app, pm = w.app, w.pm
    app.add_budget_line(pm, code, line="HW-01", name="Servers", category="hardware", amount="250000.00")
    app.add_budget_line(pm, code, line="CT-01", name="Reserve", category="contingency", amount="50000.00")
    app.add_milestone(pm, code, milestone="M-01", name="Design", planned_start=DAY0,
                      planned_finish=DAY0 + timedelta(days=60), budgeted_value="90000.00")


@dataclass
class Ledger:
    """The world, and one incrementally maintained ReadModels kept across examples."""

    w: World
    models: ReadModels


@pytest.fixture
def ledger(any_world: World) -> Ledger:
    return Ledger(any_world, models_for(any_world.app, evaluator=FakeEvaluator, batch=7))


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(commands=st.lists(ops, min_size=10, max_size=30), syncs=st.sets(st.integers(0, 30)))
def test_incremental_equals_rebuild_equals_as_of_last_position(
        ledger: Ledger, commands: list[tuple], syncs: set[int]) -> None:
    w, models = ledger.w, ledger.models
    code = f"PX-{next(_codes):04d}"
    start_project(w, code)
    for n, (op, i, j, amount) in enumerate(commands):
        before = w.app.size()
        try:
            COMMANDS[op](w, code, w.app.project(code), i, j, amount)
        except DomainError:
            assert w.app.size() == before
        if n in syncs:
            models.catch_up()
            models.catch_up_compliance()
            models.audit_trail(code)  # its cached trail is then extended, not rebuilt
    models.catch_up()
    models.catch_up_compliance()
    incremental = dump(models)
    assert incremental["tracking"][0][0] > 0

    fresh = models_for(w.app, evaluator=FakeEvaluator, batch=1000)
    fresh.rebuild()
    assert dump(fresh) == incremental
    # The audit trail, extended at each sync above, and worked out in one go.
    assert models.audit_trail(code) == fresh.audit_trail(code) != []

    head = w.app.size()
    for t in (DAY0 + timedelta(days=20), NOW.date()):
        then = models.replay(code, position=head, business_date=t)
        assert then.summary == models.summary(code, t)
        assert then.lines == models.budget(code)
    assert then.project == w.app.project(code)
