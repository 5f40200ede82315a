"""Change requests (features/change_requests.feature)."""

from typing import Any

from pytest_bdd import given, scenarios, then, when

from features.conftest import Ledger, day, step

scenarios("change_requests.feature")

JUSTIFICATION = "Needed for the department to accept the system."


def submit(world: Ledger, user: str, title: str, *, justification: str = JUSTIFICATION,
           **impacts: Any) -> str:
    world.change_request = world.app.submit_change_request(
        world.actor(user), world.code, title=title, description=f"{title}, as discussed.",
        justification=justification, **impacts)
    return world.change_request


@given(step('{user:w} has submitted a change request "{title}" adding {amount} to {line}'))
def has_submitted(world: Ledger, user: str, title: str, amount: str, line: str) -> None:
    submit(world, user, title, cost_impacts=[{"line": line, "amount": amount}])


@when(step('{user:w} submits a change request "{title}" adding {amount} to {line}'))
def submits(world: Ledger, user: str, title: str, amount: str, line: str) -> None:
    world.attempt(lambda: submit(world, user, title, cost_impacts=[{"line": line, "amount": amount}]))


@when(step('{user:w} submits a change request "{title}" adding {amount} to {line} justified by "{why}"'))
def submits_justified(world: Ledger, user: str, title: str, amount: str, line: str, why: str) -> None:
    world.attempt(lambda: submit(world, user, title, justification=why,
                                 cost_impacts=[{"line": line, "amount": amount}]))


@when(step('{user:w} submits a change request "{title}" adding {amount} to {line} '
           "and moving the finish of {milestone} to {finish}"))
def submits_cost_and_schedule(world: Ledger, user: str, title: str, amount: str, line: str,
                              milestone: str, finish: str) -> None:
    world.attempt(lambda: submit(
        world, user, title, cost_impacts=[{"line": line, "amount": amount}],
        schedule_impacts=[{"milestone": milestone, "planned_finish": day(finish)}]))


@when(step('{user:w} submits a change request "{title}" opening the {category} line {line} '
           '"{name}" with {amount}'))
def submits_new_line(world: Ledger, user: str, title: str, category: str, line: str, name: str,
                     amount: str) -> None:
    world.attempt(lambda: submit(world, user, title, cost_impacts=[
        {"line": line, "amount": amount, "name": name, "category": category}]))


@when(step("{user:w} approves the change request"))
def approves(world: Ledger, user: str) -> None:
    world.attempt(lambda: world.app.approve_change_request(world.actor(user), world.code,
                                                           world.change_request))


@when(step('{user:w} rejects the change request because "{reason}"'))
def rejects(world: Ledger, user: str, reason: str) -> None:
    world.attempt(lambda: world.app.reject_change_request(world.actor(user), world.code,
                                                          world.change_request, reason=reason))


@given(step("{user:w} has rejected the change request"))
def has_rejected(world: Ledger, user: str) -> None:
    world.app.reject_change_request(world.actor(user), world.code, world.change_request,
                                    reason="not this year")


@when(step('{user:w} withdraws the change request because "{reason}"'))
def withdraws(world: Ledger, user: str, reason: str) -> None:
    world.attempt(lambda: world.app.withdraw_change_request(world.actor(user), world.code,
                                                            world.change_request, reason=reason))


@when(step('{user:w} moves the finish of {milestone} to {finish} because "{reason}"'))
def moves_milestone(world: Ledger, user: str, milestone: str, finish: str, reason: str) -> None:
    world.attempt(lambda: world.app.revise_milestone(world.actor(user), world.code, milestone,
                                                     planned_finish=day(finish), reason=reason))


@then(step("the change request is {status}"))
def cr_status(world: Ledger, status: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().change_request(world.change_request)["status"] == status


@then(step("milestone {milestone} finishes on {finish}"))
def milestone_finish(world: Ledger, milestone: str, finish: str) -> None:
    assert world.project().milestone(milestone)["planned_finish"] == day(finish)
