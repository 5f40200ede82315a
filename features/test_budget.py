"""Budget lines and transfers (features/budget.feature)."""

from pytest_bdd import given, scenarios, then, when

from features.conftest import Ledger, step

scenarios("budget.feature")


@when(step('{user:w} adds budget line {line} "{name}" for {category} of {amount}'))
def adds_line(world: Ledger, user: str, line: str, name: str, category: str, amount: str) -> None:
    world.attempt(lambda: world.app.add_budget_line(world.actor(user), world.code, line=line,
                                                    name=name, category=category, amount=amount))


@given(step("{user:w} has requested a transfer of {amount} from {line} to {to}"))
def has_requested_transfer(world: Ledger, user: str, amount: str, line: str, to: str) -> None:
    world.transfer = world.app.request_budget_transfer(
        world.actor(user), world.code, from_line=line, to_line=to, amount=amount,
        reason="rebalancing")


@when(step('{user:w} requests a transfer of {amount} from {line} to {to} because "{reason}"'))
def requests_transfer(world: Ledger, user: str, amount: str, line: str, to: str, reason: str) -> None:
    def command() -> str:
        world.transfer = world.app.request_budget_transfer(
            world.actor(user), world.code, from_line=line, to_line=to, amount=amount, reason=reason)
        return world.transfer

    world.attempt(command)


@when(step("{user:w} approves the transfer"))
def approves_transfer(world: Ledger, user: str) -> None:
    world.attempt(lambda: world.app.approve_budget_transfer(world.actor(user), world.code,
                                                            world.transfer))


@when(step('{user:w} rejects the transfer because "{reason}"'))
def rejects_transfer(world: Ledger, user: str, reason: str) -> None:
    world.attempt(lambda: world.app.reject_budget_transfer(world.actor(user), world.code,
                                                           world.transfer, reason=reason))


@then(step("the transfer is {status}"))
def transfer_status(world: Ledger, status: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().transfer(world.transfer)["status"] == status
