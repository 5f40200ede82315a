"""Compliance review (features/compliance_review.feature).

Findings come from the read models (`ReadModels.findings`, judged as of the scenario's
"today", the simulated clock) or, for the log itself, from `ledger.verify` through
`domain.compliance.findings_from_verification`. Evidence is named in the scenario by the
act ("INV-701 submitted"); the step finds that act's position by reading the log itself,
not the read models under test.
"""

import json
from typing import Any

from pytest_bdd import given, scenarios, then, when

from domain.common import APPROVAL
from domain.compliance import findings_from_verification
from domain.money import ZERO
from domain.project import Project
from domain.readmodels.service import ReadModels
from features.conftest import Ledger, day, money, step
from ledger.verify import DatabaseSource, verify_log

scenarios("compliance_review.feature")

TOPIC = "domain.project:Project."


def position_of(world: Ledger, act: str) -> int:
    """The log position of "INV-701 submitted" / "INV-701 approved" (exactly one such act)."""
    invoice, what = act.split()
    event, match = {
        "submitted": ("ExpenditureSubmitted", ("invoice_number", invoice)),
        "approved": ("ExpenditureApproved", ("expenditure_id", world.invoices.get(invoice))),
    }[what]
    found = [row.position for row in world.app.read_chain(1, world.app.size())
             if row.topic == TOPIC + event and json.loads(row.state).get(match[0]) == match[1]]
    assert len(found) == 1, f"{act}: found at positions {found}"
    return found[0]


def as_rows(findings: list[Any]) -> list[tuple[str, str, str, tuple[int, ...]]]:
    return sorted((f.rule_id, f.severity, f.project or "", tuple(f.evidence)) for f in findings)


# Given -----------------------------------------------------------------------------------------


@given(step("a project chartered to run from {start} to {finish}"))
def chartered_to_run(world: Ledger, start: str, finish: str) -> None:
    world.charter(start_date=day(start), target_finish=day(finish))


@given("pm has laid out the budget lines:")
def laid_out_lines(world: Ledger, datatable: list[list[str]]) -> None:
    for line, name, category, amount in datatable[1:]:
        world.app.add_budget_line(world.actor("pm"), world.code, line=line, name=name,
                                  category=category, amount=str(money(amount)))


@given(step('pm has planned milestone {milestone} "{name}" from {start} to {finish} worth {amount}'))
def planned_milestone(world: Ledger, milestone: str, name: str, start: str, finish: str,
                      amount: str) -> None:
    world.app.add_milestone(world.actor("pm"), world.code, milestone=milestone, name=name,
                            planned_start=day(start), planned_finish=day(finish),
                            budgeted_value=str(money(amount)))


@given(step("pm has reported {milestone} at {percent:d}% complete as of {on}"))
def reported_progress(world: Ledger, milestone: str, percent: int, on: str) -> None:
    world.app.report_progress(world.actor("pm"), world.code, milestone, percent=percent,
                              as_of=day(on))


@given(step('{user:w} has submitted invoice {invoice} from "{vendor}" for {amount} on {line} dated {dated}'))
def submitted_dated(world: Ledger, user: str, invoice: str, vendor: str, amount: str, line: str,
                    dated: str) -> None:
    world.submit_invoice(user, invoice, vendor, amount, line, invoice_date=day(dated))


@given("the ledger verifies with no findings")
def verifies_clean(world: Ledger) -> None:
    assert findings_from_verification(verify_log(DatabaseSource(world.app))) == []


# When ------------------------------------------------------------------------------------------


@when(step("{user:w} approves invoice {invoice} by writing the approval straight into the project"))
def approves_behind_the_back(world: Ledger, user: str, invoice: str) -> None:
    """What the services refuse, written anyway: the approval event raised on the aggregate
    itself (its command checks segregation of duties too) and saved with the person's own
    key, so the log holds a validly signed self-approval."""
    world.no_unclaimed_refusal()
    actor = world.actor(user)
    project = world.project()
    project.trigger_event(Project.ExpenditureApproved, expenditure_id=world.invoices[invoice],
                          role="fiscal", reason="", completes_approval=True, liquidates=ZERO,
                          **actor.who.signed(APPROVAL))
    world.app.save(project, signer=actor.signer)


@when("the auditor reviews the compliance findings")
def reviews_findings(world: Ledger, read_models: ReadModels) -> None:
    world.no_unclaimed_refusal()
    world.result = read_models.findings()  # every project's, and the ledger-wide ones


@when(step("someone with access to the database changes the amount of {invoice}'s submission "
           "from {old} to {new}"))
def tampers(world: Ledger, invoice: str, old: str, new: str) -> None:
    (row,) = world.app.read_chain(*[position_of(world, f"{invoice} submitted")] * 2)
    before, after = f'"{old}"'.encode(), f'"{new}"'.encode()
    assert len(before) == len(after) and row.state.count(before) == 1, row.state
    world.app.recorder.execute("UPDATE {events} SET state = ? WHERE {nid} = ?",
                               (row.state.replace(before, after), row.notification_id))


@when("the auditor verifies the ledger")
def verifies(world: Ledger) -> None:
    world.result = findings_from_verification(verify_log(DatabaseSource(world.app)))


# Then ------------------------------------------------------------------------------------------


@then("there are no findings")
def no_findings(world: Ledger) -> None:
    assert [(f.rule_id, f.message) for f in world.result] == []


@then("the findings are:")
def findings_are(world: Ledger, datatable: list[list[str]]) -> None:
    expected = [(rule, severity, project, tuple(position_of(world, act.strip())
                                                for act in evidence.split(",")))
                for rule, severity, project, evidence in datatable[1:]]
    assert as_rows(world.result) == sorted(expected)


@then(step('the {rule} finding says "{first}" and "{second}"'))
def finding_says(world: Ledger, rule: str, first: str, second: str) -> None:
    (finding,) = [f for f in world.result if f.rule_id == rule]
    assert first in finding.message and second in finding.message, finding.message
