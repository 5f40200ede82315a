"""Charter and amendment (features/charter.feature)."""

from pytest_bdd import scenarios, then, when

from features.conftest import Ledger, day, step

scenarios("charter.feature")


@when(step('{user:w} charters project "{code}" titled "{title}" from {start} to {finish}'))
def charters(world: Ledger, user: str, code: str, title: str, start: str, finish: str) -> None:
    world.attempt(lambda: world.charter(code, by=user, title=title, start_date=day(start),
                                        target_finish=day(finish)))


@when(step('{user:w} amends the target finish to {finish} because "{reason}"'))
def amends_target_finish(world: Ledger, user: str, finish: str, reason: str) -> None:
    world.attempt(lambda: world.app.amend_charter(
        world.actor(user), world.code, {"target_finish": day(finish)}, reason=reason))


@then(step('project "{code}" exists with the title "{title}"'))
def project_exists(world: Ledger, code: str, title: str) -> None:
    world.no_unclaimed_refusal()
    world.code = code
    assert world.project(code).charter["title"] == title


@then(step("its next gate is {gate:w}"))
def next_gate(world: Ledger, gate: str) -> None:
    assert world.project().next_gate == gate


@then(step("the charter's target finish is {finish}"))
def target_finish(world: Ledger, finish: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().charter["target_finish"] == day(finish)


@then(step("the amendment keeps the previous target finish {finish}"))
def previous_target_finish(world: Ledger, finish: str) -> None:
    payload = world.latest_event()[1]
    assert payload["previous"]["target_finish"]["_data_"] == finish
