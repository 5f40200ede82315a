"""The auditor's replay (features/auditor_replay.feature).

Acts are recorded at the instants the scenario names ("it is 2026-03-10 14:30 UTC": the
domain clock, simulated for this scenario only), so "as of" an instant and the register's
UTC times are exact. Everything the auditor sees comes from `ReadModels`.
"""

from datetime import UTC, datetime, time
from decimal import Decimal

from pytest_bdd import given, scenarios, then, when

from domain.readmodels.asof import Replay
from domain.readmodels.service import ReadModels
from features.conftest import Ledger, day, instant, money, step

scenarios("auditor_replay.feature")


def shown(value: Decimal) -> str:
    return f"{value:,.2f}"


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def end_of(text: str) -> datetime:
    return datetime.combine(day(text), time.max, UTC)


def replayed(world: Ledger) -> Replay:
    world.no_unclaimed_refusal()
    assert isinstance(world.result, Replay), "no replay was asked for"
    return world.result


# Given -----------------------------------------------------------------------------------------


@given(step("{user:w} has requested a transfer of {amount} from {line} to {to}"))
def has_requested_transfer(world: Ledger, user: str, amount: str, line: str, to: str) -> None:
    world.transfer = world.app.request_budget_transfer(
        world.actor(user), world.code, from_line=line, to_line=to, amount=amount,
        reason="fewer servers than planned")


@given(step("{user:w} has approved the transfer"))
@given(step('{user:w} has approved the transfer because "{reason}"'))
def has_approved_transfer(world: Ledger, user: str, reason: str = "") -> None:
    world.app.approve_budget_transfer(world.actor(user), world.code, world.transfer, reason=reason)


@given(step('{user:w} has changed the budget of {line} to {amount} because "{reason}"'))
def has_changed_budget(world: Ledger, user: str, line: str, amount: str, reason: str) -> None:
    world.app.revise_budget_line(world.actor(user), world.code, line, amount=amount, reason=reason)


@given(step("{user:w} has approved invoice {invoice}"))
def has_approved_invoice(world: Ledger, user: str, invoice: str) -> None:
    world.app.approve_expenditure(world.actor(user), world.code, world.invoices[invoice])


@given(step('{user:w} has rejected invoice {invoice} because "{reason}"'))
def has_rejected_invoice(world: Ledger, user: str, invoice: str, reason: str) -> None:
    world.app.reject_expenditure(world.actor(user), world.code, world.invoices[invoice],
                                 reason=reason)


@given(step('the auditor notes the log position as "{name}"'))
def notes_position(world: Ledger, positions: dict[str, int], name: str) -> None:
    positions[name] = world.app.size()


# When ------------------------------------------------------------------------------------------


@when(step("the auditor replays the project as of {when} UTC"))
def replays_as_of_instant(world: Ledger, read_models: ReadModels, when: str) -> None:
    world.result = read_models.replay(world.code, instant=instant(when))


@when(step('the auditor replays the project as of the position noted "{name}"'))
def replays_as_of_position(world: Ledger, read_models: ReadModels, positions: dict[str, int],
                           name: str) -> None:
    world.result = read_models.replay(world.code, position=positions[name])


@when("the auditor opens the approvals register of the project")
def opens_register(world: Ledger, read_models: ReadModels) -> None:
    world.result = read_models.approvals(world.code)


@when(step("the auditor opens the audit trail of the {field:w} of line {line}"))
def opens_audit_trail(world: Ledger, read_models: ReadModels, field: str, line: str) -> None:
    world.result = read_models.audit_trail(world.code, f"lines.{line}.{field}")


# Then: the replay ------------------------------------------------------------------------------


@then(step("the replay was recorded at {when} UTC"))
def replay_recorded_at(world: Ledger, when: str) -> None:
    assert replayed(world).recorded_at == instant(when)


@then(step('the replay stands at the position noted "{name}"'))
def replay_position(world: Ledger, positions: dict[str, int], name: str) -> None:
    r = replayed(world)
    assert (r.position, r.project_position) == (positions[name], positions[name])


@then(step("line {line} then had a budget of {amount} with {available:amount} available"))
def line_then(world: Ledger, line: str, amount: str, available: str) -> None:
    (b,) = [b for b in replayed(world).lines if b.line == line]
    assert (b.current, b.available) == (money(amount), money(available))


@then(step("the transfer was then {status:w}"))
def transfer_then(world: Ledger, status: str) -> None:
    assert replayed(world).project.transfer(world.transfer)["status"] == status


@then(step("the project then had spent {amount}"))
def project_spent_then(world: Ledger, amount: str) -> None:
    assert replayed(world).summary.facts.spent == money(amount)


@then(step("today line {line} has a budget of {amount} with {available:amount} available"))
def line_today(world: Ledger, read_models: ReadModels, line: str, amount: str, available: str) -> None:
    (b,) = [b for b in read_models.budget(world.code) if b.line == line]
    assert (b.current, b.available) == (money(amount), money(available))


# Then: two clocks ------------------------------------------------------------------------------


@then(step("what was spent by {by}, as we know it today, is {amount}"))
def spent_by_known_today(world: Ledger, read_models: ReadModels, by: str, amount: str) -> None:
    assert read_models.spent_by(world.code, day(by)) == money(amount)


@then(step("what we knew on {on} of the spending by {by} is {amount}"))
def spent_by_known_then(world: Ledger, read_models: ReadModels, on: str, by: str, amount: str) -> None:
    assert read_models.spent_by(world.code, day(by), known_at=end_of(on)) == money(amount)


@then(step("as the project stood at the end of {on} it had spent {amount}"))
def stood_at_end_of(world: Ledger, read_models: ReadModels, on: str, amount: str) -> None:
    replay = read_models.replay(world.code, instant=end_of(on))
    assert replay.summary.facts.spent == money(amount)


# Then: the register and the trail --------------------------------------------------------------


@then("the register lists:")
def register_lists(world: Ledger, datatable: list[list[str]]) -> None:
    numbers = {e: n for n, e in world.invoices.items()}
    rows = []
    for a in world.result:
        what = f"invoice {numbers[a.item]}" if a.kind == "expenditure" else f"{a.kind} {a.item}"
        rows.append([utc(a.recorded_at), a.actor_name, a.role or "", what, a.decision, a.meaning,
                     a.reason or ""])
    assert rows == datatable[1:]


@then("the trail shows:")
def trail_shows(world: Ledger, datatable: list[list[str]]) -> None:
    def value(text: str | None) -> str:
        return "" if text is None else shown(Decimal(text))

    rows = [[utc(a.recorded_at), value(a.old_value), value(a.new_value), a.actor_name or "",
             a.reason or ""] for a in world.result]
    assert rows == datatable[1:]
