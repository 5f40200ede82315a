"""Expenditures and their approval (features/expenditures.feature)."""

from pytest_bdd import given, scenarios

from features.conftest import Ledger, step

scenarios("expenditures.feature")


@given(step("{user:w} has approved invoice {invoice}"))
def has_approved_invoice(world: Ledger, user: str, invoice: str) -> None:
    world.app.approve_expenditure(world.actor(user), world.code, world.invoices[invoice])
