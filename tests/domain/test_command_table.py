"""The one command table (domain/commands.py) is the services' truth: every command is in
it, and the event types it lists for a command are exactly what the command writes (seen
in the receipts of a scenario that gives every command at least once)."""

from __future__ import annotations

import inspect
from collections import defaultdict
from datetime import date
from typing import Any

from domain.commands import COMMANDS, WRITERS
from domain.compliance import evaluator
from domain.handlers.base import Done
from domain.handlers.baseline import BaselineHandler
from domain.handlers.gates import GatesHandler
from domain.handlers.money import MoneyHandler
from domain.handlers.people import PeopleHandler
from domain.handlers.records import RecordsHandler
from domain.services import PMOApplication
from tests.domain.helpers import CODE, PW

HANDLERS = (BaselineHandler, MoneyHandler, GatesHandler, RecordsHandler, PeopleHandler)


def _handler_commands() -> set[str]:
    """Every handler method that writes events (it returns `Done`)."""
    return {name for handler in HANDLERS for name, f in vars(handler).items()
            if not name.startswith("_") and callable(f)
            and inspect.signature(f).return_annotation in (Done, "Done")}


def _facade_commands() -> set[str]:
    """The PMOApplication methods that write events (they take `receipts=`)."""
    return {name for name, f in vars(PMOApplication).items()
            if callable(f) and name != "batch"
            and "receipts" in inspect.signature(f, follow_wrapped=False).parameters}


def test_every_service_command_is_in_the_table_and_runs_in_its_area():
    assert _handler_commands() == _facade_commands() == set(COMMANDS)
    app_class = PMOApplication
    for name, command in COMMANDS.items():
        handler = {"baseline": "BaselineHandler", "money": "MoneyHandler", "gates": "GatesHandler",
                   "records": "RecordsHandler", "people": "PeopleHandler"}[command.area]
        assert getattr(app_class, name).__wrapped__.__qualname__ == f"{handler}.{name}"
        assert set(command.consequences) <= set(command.events)
        assert command.roles or command.policy_roles, name


def test_compliance_judges_by_the_same_table():
    assert evaluator.APPROVING == {n for n, c in WRITERS.items() if c.approving} - {"GatePassed", "Closed"}


class Recording:
    """The application, recording the event types each command's receipts show."""

    def __init__(self, app: PMOApplication) -> None:
        self.app = app
        self.written: dict[str, set[str]] = defaultdict(set)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.app, name)
        if name not in COMMANDS:
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            receipts: list = []
            value = method(*args, receipts=receipts, **kwargs)
            assert receipts, f"{name} wrote nothing"
            assert [r.position for r in receipts] == list(
                range(receipts[0].position, receipts[0].position + len(receipts)))
            self.written[name] |= {r.topic.rsplit(":", 1)[-1] for r in receipts}
            return value

        return call


def test_each_command_writes_exactly_the_event_types_the_table_lists(world):
    app = Recording(world.app)
    world.app = app  # the world's helpers give their commands through the recording
    w, pm, fiscal, sponsor, pmo, admin = world, world.pm, world.fiscal, world.sponsor, world.pmo, world.admin

    # People, keys and policy.
    app.enrol_person(admin, username="newbie", name="New Person", passphrase=PW)
    app.grant_role(admin, "newbie", "pm", reason="joins")
    app.revoke_role(admin, "newbie", "pm", reason="moves")
    app.grant_role(admin, "newbie", "admin", reason="second admin", passphrase=PW)
    app.revoke_role(admin, "newbie", "admin", reason="no longer", passphrase=PW)
    app.reissue_key(admin, "newbie", passphrase=PW, reason="lost laptop")
    app.deactivate_person(admin, "newbie", reason="left")
    app.change_policy(pmo, {"pending_days_limit": 10}, reason="tighter")

    # Charter and baseline (before G1).
    w.baseline()
    app.amend_charter(pm, CODE, {"title": "Permits"}, reason="shorter")
    app.add_deliverable(pm, CODE, deliverable="D-01", name="Portal")
    app.remove_deliverable(pm, CODE, "D-01", reason="merged")
    app.add_budget_line(pm, CODE, line="TR-01", name="Training", category="training", amount="10.00")
    app.revise_budget_line(pm, CODE, "TR-01", amount="20.00")
    app.remove_budget_line(pm, CODE, "TR-01", reason="not needed")
    app.add_milestone(pm, CODE, milestone="M-09", name="Spare", planned_start=date(2025, 1, 1),
                      planned_finish=date(2025, 2, 1), budgeted_value="1.00")
    app.revise_milestone(pm, CODE, "M-09", name="Spare part")
    app.remove_milestone(pm, CODE, "M-09", reason="not needed")
    w.pass_gate("G0")
    w.pass_gate("G1")

    # Change requests.
    def cr() -> str:
        return app.submit_change_request(pm, CODE, title="More", description="d", justification="j",
                                         cost_impacts=[{"line": "HW-01", "amount": "1000.00"}])
    app.approve_change_request(sponsor, CODE, cr())
    app.reject_change_request(sponsor, CODE, cr(), reason="no")
    app.withdraw_change_request(pm, CODE, cr(), reason="later")

    # Money.
    def transfer() -> str:
        return app.request_budget_transfer(pm, CODE, from_line="LB-01", to_line="HW-01",
                                           amount="100.00", reason="move")
    app.approve_budget_transfer(fiscal, CODE, transfer())
    app.reject_budget_transfer(fiscal, CODE, transfer(), reason="no")

    def po(number: str) -> str:
        return app.submit_commitment(pm, CODE, po_number=number, vendor="Dell", line="HW-01",
                                     amount="100.00")
    app.approve_commitment(fiscal, CODE, po("PO-1"))
    app.close_commitment(pm, CODE, "PO-1", reason="done")
    app.reject_commitment(fiscal, CODE, po("PO-2"), reason="no")
    app.approve_commitment(fiscal, CODE, po("PO-3"))
    app.release_commitment(fiscal, CODE, "PO-3", reason="cancelled")
    app.approve_expenditure(fiscal, CODE, w.expenditure("10.00", invoice="I-1"))
    app.reverse_expenditure(fiscal, CODE, "EXP-0001", reason="duplicate")
    app.reject_expenditure(fiscal, CODE, w.expenditure("10.00", invoice="I-2"), reason="no")

    # Progress, acceptance, records.
    app.report_progress(pm, CODE, "M-01", percent=100, as_of=date(2025, 6, 30))
    app.accept_milestone(sponsor, CODE, "M-01", accepted_on=date(2025, 7, 1))
    risk = app.raise_risk(pm, CODE, title="R", probability=1, impact=1, owner="o", mitigation="m")
    app.update_risk(pm, CODE, risk, reason="worse", impact=3)
    app.close_risk(pm, CODE, risk, reason="gone")
    issue = app.raise_issue(pm, CODE, title="I", description="d", severity="low", owner="o")
    app.escalate_issue(pm, CODE, issue, to="sponsor", reason="stuck")
    app.resolve_issue(pm, CODE, issue, resolution="fixed")
    app.publish_status_report(pm, CODE, period_start=date(2025, 3, 1), period_end=date(2025, 3, 31),
                              overall="green", schedule="green", budget="green", scope="green",
                              summary="fine")

    # Gates to closeout, one passed with a condition met afterwards.
    w.pass_gate("G2")
    w.pass_gate("G3")
    app.request_gate_review(pm, CODE, "G4", artifacts=[{"name": "closeout.pdf"}])
    for username in world.app.app.project(CODE).gates["G4"]["required_roles"]:
        decision = "approved-with-conditions" if username == "pmo" else "approved"
        app.sign_off_gate(w.actor(username), CODE, "G4", decision=decision,
                          conditions="archive" if username == "pmo" else "")
    app.record_gate_conditions_met(pmo, CODE, "G4", conditions=["archive"], reason="archived")

    assert set(app.written) == set(COMMANDS)
    assert {name: app.written[name] for name in COMMANDS} == {
        name: set(c.events) for name, c in COMMANDS.items()}
