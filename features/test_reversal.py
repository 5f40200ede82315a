"""Reversal (features/reversal.feature)."""

from pytest_bdd import given, scenarios, then, when

from features.conftest import Ledger, step

scenarios("reversal.feature")


@when(step('{user:w} reverses invoice {invoice} because "{reason}"'))
def reverses(world: Ledger, user: str, invoice: str, reason: str) -> None:
    world.attempt(lambda: world.app.reverse_expenditure(
        world.actor(user), world.code, world.invoices[invoice], reason=reason))


@given(step("{user:w} has reversed invoice {invoice}"))
def has_reversed(world: Ledger, user: str, invoice: str) -> None:
    world.app.reverse_expenditure(world.actor(user), world.code, world.invoices[invoice],
                                  reason="duplicate billing")


@given(step("{user:w} has approved invoice {invoice}"))
def has_approved_invoice(world: Ledger, user: str, invoice: str) -> None:
    world.app.approve_expenditure(world.actor(user), world.code, world.invoices[invoice])


@then(step("the approval of invoice {invoice} by {user:w} is still on record"))
def approval_on_record(world: Ledger, invoice: str, user: str) -> None:
    expenditure = world.project().expenditure(world.invoices[invoice])
    assert [a["actor_id"] for a in expenditure["approvals"]] == [user]
    topics = [row.topic.rsplit(".", 1)[-1] for row in world.app.iter_chain()
              if row.originator_id == str(world.project().id)]
    assert topics.count("ExpenditureApproved") == 1 and topics[-1] == "ExpenditureReversed"
