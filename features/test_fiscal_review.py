"""The fiscal officer's review (features/fiscal_review.feature).

The queue and the budget come from the read models (`ReadModels`), which catch up with
the log before every answer: no step waits or catches up by hand. A queue row carries the
amount; the line's balance before and after is what the budget by line says the line has
available now, less (or for a transfer's receiving line, plus) that amount -- the figures
the review page puts beside each item.
"""

from decimal import Decimal

from pytest_bdd import given, scenarios, then, when

from domain.readmodels.service import ReadModels
from domain.readmodels.views import LineBudget, QueueItem
from features.conftest import Ledger, money, step

scenarios("fiscal_review.feature")


# Helpers ---------------------------------------------------------------------------------------


def fiscal_queue(world: Ledger, models: ReadModels) -> list[QueueItem]:
    world.no_unclaimed_refusal()
    return [q for q in models.queue("fiscal") if q.project == world.code]


def budget_of(models: ReadModels, world: Ledger) -> dict[str, LineBudget]:
    return {b.line: b for b in models.budget(world.code)}


def label(world: Ledger, q: QueueItem) -> str:
    """How the fiscal officer names a queued item: by invoice number, PO or transfer."""
    if q.kind == "expenditure":
        numbers = {e: n for n, e in world.invoices.items()}
        return f"invoice {numbers[q.item]}"
    return {"commitment": "purchase order", "transfer": "transfer"}[q.kind] + f" {q.item}"


def lines_moved(world: Ledger, q: QueueItem) -> list[tuple[str, int]]:
    """The lines the item draws on (-1) or adds to (+1)."""
    project = world.project()
    if q.kind == "transfer":
        t = project.transfer(q.item)
        return [(t["from_line"], -1), (t["to_line"], 1)]
    item = project.expenditure(q.item) if q.kind == "expenditure" else project.commitment(q.item)
    return [(item["line"], -1)]


def shown(value: Decimal) -> str:
    return f"{value:,.2f}"


# Given -----------------------------------------------------------------------------------------


@given(step("{user:w} has requested a transfer of {amount} from {line} to {to}"))
def has_requested_transfer(world: Ledger, user: str, amount: str, line: str, to: str) -> None:
    world.transfer = world.app.request_budget_transfer(
        world.actor(user), world.code, from_line=line, to_line=to, amount=amount,
        reason="fewer servers than planned")


@given(step("{user:w} has approved a transfer of {amount} from {line} to {to}"))
def has_approved_transfer(world: Ledger, user: str, amount: str, line: str, to: str) -> None:
    has_requested_transfer(world, "pm", amount, line, to)
    world.app.approve_budget_transfer(world.actor(user), world.code, world.transfer)
    assert world.project().transfer(world.transfer)["status"] == "approved"


@given(step("{user:w} has seen invoice {invoice} in the fiscal review queue"))
def has_seen_in_queue(world: Ledger, read_models: ReadModels, user: str, invoice: str) -> None:
    assert [label(world, q) for q in fiscal_queue(world, read_models)] == [f"invoice {invoice}"]


@given(step("the sponsor has approved a change request adding {amount} to {line} and {other:amount} to {to}"))
def approved_change_request(world: Ledger, amount: str, line: str, other: str, to: str) -> None:
    cr = world.app.submit_change_request(
        world.actor("pm"), world.code, title="Rebalance build and hardware",
        description="More developer time, fewer servers", justification="scope grew after design",
        cost_impacts=[{"line": line, "amount": str(money(amount))},
                      {"line": to, "amount": str(money(other))}])
    world.app.approve_change_request(world.actor("sponsor"), world.code, cr)
    assert world.project().change_request(cr)["status"] == "approved"


# When ------------------------------------------------------------------------------------------


@when(step("{user:w} opens the fiscal review queue"))
def opens_queue(world: Ledger, read_models: ReadModels, user: str) -> None:
    world.result = fiscal_queue(world, read_models)


@when(step("{user:w} reviews the budget by line"))
def reviews_budget(world: Ledger, read_models: ReadModels, user: str) -> None:
    world.result = read_models.budget(world.code)


# Then ------------------------------------------------------------------------------------------


@then("the queue shows, oldest first:")
def queue_shows(world: Ledger, read_models: ReadModels, datatable: list[list[str]]) -> None:
    budget = budget_of(read_models, world)
    rows = []
    for q in world.result:
        assert q.amount is not None
        for line, sign in lines_moved(world, q):
            before = budget[line].available
            rows.append([label(world, q), shown(q.amount), line, shown(before),
                         shown(before + sign * q.amount), str(q.approvals)])
    assert rows == datatable[1:]


@then("the fiscal review queue is empty")
def queue_empty(world: Ledger, read_models: ReadModels) -> None:
    assert [label(world, q) for q in fiscal_queue(world, read_models)] == []


@then(step("the fiscal review queue still holds invoice {invoice} with {n:d} approval so far"))
@then(step("the fiscal review queue still holds invoice {invoice} with {n:d} approvals so far"))
def queue_still_holds(world: Ledger, read_models: ReadModels, invoice: str, n: int) -> None:
    assert [(label(world, q), q.approvals) for q in fiscal_queue(world, read_models)] == [
        (f"invoice {invoice}", n)]


@then(step("the budget by line shows {line} with spent {spent:amount}, pending {pending:amount} "
           "and available {available:amount}"))
@given(step("the budget by line shows {line} with spent {spent:amount}, pending {pending:amount} "
            "and available {available:amount}"))
def budget_shows(world: Ledger, read_models: ReadModels, line: str, spent: str, pending: str,
                 available: str) -> None:
    world.no_unclaimed_refusal()
    b = budget_of(read_models, world)[line]
    assert (b.spent, b.pending, b.available) == (money(spent), money(pending), money(available))


@then("the budget by line is:")
def budget_is(world: Ledger, datatable: list[list[str]]) -> None:
    rows = [[b.line, *(shown(getattr(b, k)) for k in (
        "original", "transferred", "cr_adjusted", "current", "committed", "spent", "pending",
        "available"))] for b in world.result]
    assert rows == datatable[1:]


@then(step("the project's totals are budget {budget:amount}, committed {committed:amount}, "
           "spent {spent:amount}, pending {pending:amount} and available {available:amount}"))
def project_totals(world: Ledger, read_models: ReadModels, budget: str, committed: str, spent: str,
                   pending: str, available: str) -> None:
    (f,) = read_models.facts(world.code)
    assert (f.budget, f.committed, f.spent, f.pending, f.available) == tuple(
        money(x) for x in (budget, committed, spent, pending, available))
