"""Gates (features/gates.feature)."""

from pytest_bdd import given, scenarios, then, when

from features.conftest import Ledger, step

scenarios("gates.feature")


@when(step('{user:w} requests the {gate} review with "{artifact}"'))
def requests_review(world: Ledger, user: str, gate: str, artifact: str) -> None:
    world.attempt(lambda: world.app.request_gate_review(world.actor(user), world.code, gate,
                                                        artifacts=[{"name": artifact}]))


@given(step("{user:w} has requested the {gate} review"))
def has_requested_review(world: Ledger, user: str, gate: str) -> None:
    world.app.request_gate_review(world.actor(user), world.code, gate,
                                  artifacts=[{"name": f"{gate}-pack.pdf"}])


@when(step("{user:w} signs off {gate} as approved"))
def signs_off(world: Ledger, user: str, gate: str) -> None:
    world.attempt(lambda: world.app.sign_off_gate(world.actor(user), world.code, gate,
                                                  decision="approved"))


@given(step("{user:w} has signed off {gate}"))
def has_signed_off(world: Ledger, user: str, gate: str) -> None:
    world.app.sign_off_gate(world.actor(user), world.code, gate, decision="approved")


@when(step('{user:w} signs off {gate} with the condition "{condition}"'))
def signs_off_with_condition(world: Ledger, user: str, gate: str, condition: str) -> None:
    world.attempt(lambda: world.app.sign_off_gate(
        world.actor(user), world.code, gate, decision="approved-with-conditions",
        conditions=condition))


@when(step('{user:w} rejects {gate} because "{reason}"'))
def rejects_gate(world: Ledger, user: str, gate: str, reason: str) -> None:
    world.attempt(lambda: world.app.sign_off_gate(world.actor(user), world.code, gate,
                                                  decision="rejected", reason=reason))


@then(step("gate {gate} has passed"))
def gate_passed(world: Ledger, gate: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().gates[gate]["status"] == "passed"


@then(step('gate {gate} has passed with the condition "{condition}"'))
def gate_passed_with(world: Ledger, gate: str, condition: str) -> None:
    world.no_unclaimed_refusal()
    state = world.project().gates[gate]
    assert state["status"] == "passed" and state["conditions"] == [condition]


@then(step("gate {gate} is {status} in round {n:d}"))
def gate_status_round(world: Ledger, gate: str, status: str, n: int) -> None:
    world.no_unclaimed_refusal()
    state = world.project().gates[gate]
    assert (state["status"], state["round"]) == (status, n)


@then(step("gate {gate} is {status}"))
def gate_status(world: Ledger, gate: str, status: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().gates[gate]["status"] == status


@then(step("the project's next gate is {gate}"))
def next_gate(world: Ledger, gate: str) -> None:
    assert world.project().next_gate == gate


@then("the project is closed")
def project_closed(world: Ledger) -> None:
    world.no_unclaimed_refusal()
    project = world.project()
    assert project.closed and project.next_gate is None


@given(step('{user:w} has signed off {gate} with the condition "{condition}"'))
def has_signed_off_with_condition(world: Ledger, user: str, gate: str, condition: str) -> None:
    world.app.sign_off_gate(world.actor(user), world.code, gate,
                            decision="approved-with-conditions", conditions=condition)


@given(step('{user:w} has submitted a change request "{title}" adding {amount} to {line}'))
def has_submitted_cr(world: Ledger, user: str, title: str, amount: str, line: str) -> None:
    world.change_request = world.app.submit_change_request(
        world.actor(user), world.code, title=title, description=title,
        justification="requested by the department", cost_impacts=[{"line": line, "amount": amount}])


@when(step('{user:w} closes purchase order {po} because "{reason}"'))
def closes_po(world: Ledger, user: str, po: str, reason: str) -> None:
    world.attempt(lambda: world.app.close_commitment(world.actor(user), world.code, po, reason=reason))


@when(step('{user:w} withdraws the change request because "{reason}"'))
def withdraws_cr(world: Ledger, user: str, reason: str) -> None:
    world.attempt(lambda: world.app.withdraw_change_request(
        world.actor(user), world.code, world.change_request, reason=reason))


@when(step('{user:w} records the condition "{condition}" of {gate} as met because "{reason}"'))
def records_condition_met(world: Ledger, user: str, condition: str, gate: str, reason: str) -> None:
    world.attempt(lambda: world.app.record_gate_conditions_met(
        world.actor(user), world.code, gate, conditions=[condition], reason=reason))


@then(step("{gate} has no open conditions"))
def no_open_conditions(world: Ledger, gate: str) -> None:
    world.no_unclaimed_refusal()
    project = world.project()
    assert project.gates[gate]["conditions"] and project.open_conditions(gate) == []


@then(step('{gate} still has the open condition "{condition}"'))
def open_condition(world: Ledger, gate: str, condition: str) -> None:
    assert world.project().open_conditions(gate) == [condition]
