"""Commitments: purchase orders (features/commitments.feature)."""

from pytest_bdd import given, scenarios, when

from features.conftest import Ledger, step

scenarios("commitments.feature")


@when(step("{user:w} approves purchase order {po}"))
def approves_po(world: Ledger, user: str, po: str) -> None:
    world.attempt(lambda: world.app.approve_commitment(world.actor(user), world.code, po))


@given(step("{user:w} has approved purchase order {po}"))
def has_approved_po(world: Ledger, user: str, po: str) -> None:
    world.app.approve_commitment(world.actor(user), world.code, po)


@when(step('{user:w} closes purchase order {po} because "{reason}"'))
def closes_po(world: Ledger, user: str, po: str, reason: str) -> None:
    world.attempt(lambda: world.app.close_commitment(world.actor(user), world.code, po, reason=reason))


@when(step('{user:w} releases purchase order {po} because "{reason}"'))
def releases_po(world: Ledger, user: str, po: str, reason: str) -> None:
    world.attempt(lambda: world.app.release_commitment(world.actor(user), world.code, po, reason=reason))


@when(step('{user:w} submits invoice {invoice} from "{vendor}" for {amount} on {line} citing {po}'))
def submits_invoice_citing(world: Ledger, user: str, invoice: str, vendor: str, amount: str,
                           line: str, po: str) -> None:
    world.attempt(lambda: world.submit_invoice(user, invoice, vendor, amount, line, po=po))
