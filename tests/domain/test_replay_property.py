"""Property: any sequence of commands, replayed from the log alone, rebuilds exactly the
aggregates the application held when it saved them.

Replay uses a fresh application on the same database (so no cache), folding the stored
events from version 1 (so no snapshots); the fresh repository's own load (which does use
snapshots, taken here every few events) must agree too.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from functools import reduce
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.directory import Directory
from domain.errors import DomainError
from domain.policy import Policy
from domain.project import Project
from domain.services import PMOApplication
from ledger.application import open_ledger
from ledger.keyring import KeyRing
from tests.domain.helpers import CODE, World


class RecordingApp(PMOApplication):
    """Keeps a deep copy of every aggregate as it was when saved."""

    snapshotting_intervals = {KeyRing: 50, Project: 7, Directory: 5, Policy: 3}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saved: dict[Any, Any] = {}

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        result = super().save(*objs, **kwargs)
        for obj in objs:
            self.saved[obj.id] = copy.deepcopy(obj)
        return result


DAY0 = date(2025, 1, 1)
amounts = st.integers(min_value=1, max_value=6_000_000).map(lambda c: Decimal(c).scaleb(-2))


def pick(items: dict[str, Any], index: int) -> str:
    keys = sorted(items)
    return keys[index % len(keys)] if keys else "none"


FISCAL = ["fiscal", "fiscal2", "sponsor", "fiscal"]


def _expenditure(w: World, p: Project, i: int, j: int, amount: Decimal) -> Any:
    po = pick(p.commitments, i) if j == 0 and p.commitments else None
    line = p.commitments[po]["line"] if po else pick(p.lines, i)
    return w.app.submit_expenditure(
        w.pm, CODE, line=line, amount=amount, vendor="Acme", po_number=po, description="d",
        invoice_number=f"INV-{len(p.expenditures)}", invoice_date=DAY0 + timedelta(days=i * 7))


def _signoff(w: World, p: Project, j: int) -> Any:
    gate = p.next_gate or "G4"
    roles = p.gates[gate]["required_roles"] or ["sponsor"]
    return w.app.sign_off_gate(w.actor(roles[j % len(roles)]), CODE, gate, decision="approved")


def _cr(w: World, p: Project, i: int, j: int, amount: Decimal) -> Any:
    impact = {"line": pick(p.lines, i), "amount": -amount if j % 2 else amount}
    return w.app.submit_change_request(w.pm, CODE, title="CR", description="d", justification="j",
                                       cost_impacts=[impact], scope_impact="")


# Each operation: (world, project as loaded now, i, j, amount) -> one command.
COMMANDS = {
    "line": lambda w, p, i, j, a: w.app.add_budget_line(
        w.pm, CODE, line=f"L-{len(p.lines)}", name="Line", category="hardware", amount=a * 10),
    "milestone": lambda w, p, i, j, a: w.app.add_milestone(
        w.pm, CODE, milestone=f"M-{len(p.milestones)}", name="m", planned_start=DAY0,
        planned_finish=DAY0 + timedelta(days=i * 7), budgeted_value=a),
    "expenditure": _expenditure,
    "approve_e": lambda w, p, i, j, a: w.app.approve_expenditure(
        w.actor(FISCAL[j]), CODE, pick(p.expenditures, i)),
    "reject_e": lambda w, p, i, j, a: w.app.reject_expenditure(
        w.actor(FISCAL[j]), CODE, pick(p.expenditures, i), reason="no receipt"),
    "reverse_e": lambda w, p, i, j, a: w.app.reverse_expenditure(
        w.actor(FISCAL[j]), CODE, pick(p.expenditures, i), reason="duplicate"),
    "commitment": lambda w, p, i, j, a: w.app.submit_commitment(
        w.pm, CODE, po_number=f"PO-{len(p.commitments)}", vendor="Acme", line=pick(p.lines, i), amount=a),
    "approve_c": lambda w, p, i, j, a: w.app.approve_commitment(
        w.actor(FISCAL[j]), CODE, pick(p.commitments, i)),
    "close_c": lambda w, p, i, j, a: w.app.close_commitment(
        w.actor(FISCAL[j]), CODE, pick(p.commitments, i), reason="done"),
    "transfer": lambda w, p, i, j, a: w.app.request_budget_transfer(
        w.pm, CODE, from_line=pick(p.lines, i), to_line=pick(p.lines, i + j + 1), amount=a,
        reason="rebalance"),
    "approve_t": lambda w, p, i, j, a: w.app.approve_budget_transfer(
        w.actor(FISCAL[j]), CODE, pick(p.transfers, i)),
    "progress": lambda w, p, i, j, a: w.app.report_progress(
        w.pm, CODE, pick(p.milestones, i), percent=(i * 7) % 101, as_of=DAY0 + timedelta(days=i)),
    "risk": lambda w, p, i, j, a: w.app.raise_risk(
        w.pm, CODE, title=f"Risk {i}", probability=j + 1, impact=j + 2, owner="o", mitigation="m"),
    "issue": lambda w, p, i, j, a: w.app.raise_issue(
        w.pm, CODE, title="Issue", description="d", severity="high", owner="o"),
    "cr": _cr,
    "approve_cr": lambda w, p, i, j, a: w.app.approve_change_request(
        w.sponsor, CODE, pick(p.change_requests, i)),
    "gate": lambda w, p, i, j, a: w.app.request_gate_review(
        w.pm, CODE, p.next_gate or "G4", artifacts=[{"name": "pack"}]),
    "signoff": lambda w, p, i, j, a: _signoff(w, p, j),
    "report": lambda w, p, i, j, a: w.app.publish_status_report(
        w.pm, CODE, period_start=DAY0, period_end=DAY0 + timedelta(days=i * 7), overall="green",
        schedule="amber", budget="red", scope="green", summary="s"),
    "grant": lambda w, p, i, j, a: w.app.grant_role(
        w.admin, FISCAL[j] if j != 1 else "pmo", "pmo", project=CODE, reason="cover"),
    "policy": lambda w, p, i, j, a: w.app.change_policy(
        w.pmo, {"dual_fiscal_threshold": a * 10 + 1}, reason="tune"),
}


ops = st.tuples(
    st.sampled_from(sorted(COMMANDS)),
    st.integers(min_value=0, max_value=50),
    st.integers(min_value=0, max_value=3),
    amounts,
)


def state_bytes(app: PMOApplication, aggregate: Any) -> bytes:
    state = {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
    return app.mapper.transcoder.encode(state)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=st.lists(ops, min_size=5, max_size=40))
def test_replay_from_the_log_rebuilds_equal_aggregates(template_db: Path, commands: list[tuple]) -> None:
    workdir = Path(tempfile.mkdtemp())
    try:
        shutil.copy(template_db, workdir / "l.db")
        url = f"sqlite:///{workdir / 'l.db'}"
        app = open_ledger(url, app_class=RecordingApp)
        w = World(app, url)
        w.baseline()
        for op, i, j, amount in commands:
            before = app.size()
            try:
                COMMANDS[op](w, app.project(CODE), i, j, amount)
            except DomainError:
                assert app.size() == before
        fresh = open_ledger(url, app_class=PMOApplication)
        try:
            for aggregate_id, recorded in app.saved.items():
                replayed = reduce(lambda a, e: e.mutate(a), fresh.events.get(aggregate_id), None)
                assert replayed == recorded
                assert state_bytes(fresh, replayed) == state_bytes(app, recorded)
                assert fresh.repository.get(aggregate_id) == recorded
        finally:
            fresh.close()
            app.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
