"""Risks and issues (features/risks.feature)."""

from pytest_bdd import given, scenarios, then, when

from features.conftest import Ledger, step

scenarios("risks.feature")


@given(step('{user:w} has raised the risk "{title}"'))
def has_raised_risk(world: Ledger, user: str, title: str) -> None:
    world.risks[title] = world.app.raise_risk(world.actor(user), world.code, title=title,
                                              probability=3, impact=3, owner="Bea Relations",
                                              mitigation="monitor")


@when(step('{user:w} reassesses risk "{title}" to probability {p:d} and status {status} because "{reason}"'))
def reassesses(world: Ledger, user: str, title: str, p: int, status: str, reason: str) -> None:
    world.attempt(lambda: world.app.update_risk(world.actor(user), world.code, world.risks[title],
                                                probability=p, status=status, reason=reason))


@when(step('{user:w} closes risk "{title}" because "{reason}"'))
def closes_risk(world: Ledger, user: str, title: str, reason: str) -> None:
    world.attempt(lambda: world.app.close_risk(world.actor(user), world.code, world.risks[title],
                                               reason=reason))


@given(step('{user:w} has closed risk "{title}"'))
def has_closed_risk(world: Ledger, user: str, title: str) -> None:
    world.app.close_risk(world.actor(user), world.code, world.risks[title], reason="gone")


@then(step('risk "{title}" is {status} with probability {p:d} and impact {i:d}'))
def risk_state(world: Ledger, title: str, status: str, p: int, i: int) -> None:
    world.no_unclaimed_refusal()
    risk = world.project().risk(world.risks[title])
    assert (risk["status"], risk["probability"], risk["impact"]) == (status, p, i)


@then(step('risk "{title}" is {status}'))
def risk_status(world: Ledger, title: str, status: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().risk(world.risks[title])["status"] == status


@when(step('{user:w} raises the {severity:w} issue "{title}"'))
def raises_issue(world: Ledger, user: str, severity: str, title: str) -> None:
    def command() -> str:
        world.issue = world.app.raise_issue(world.actor(user), world.code, title=title,
                                            description=f"{title}: work is blocked",
                                            severity=severity, owner="Bea Relations")
        return world.issue

    world.attempt(command)


@when(step('{user:w} escalates the issue to "{to}" because "{reason}"'))
def escalates(world: Ledger, user: str, to: str, reason: str) -> None:
    world.attempt(lambda: world.app.escalate_issue(world.actor(user), world.code, world.issue,
                                                   to=to, reason=reason))


@when(step('{user:w} resolves the issue with "{resolution}"'))
def resolves(world: Ledger, user: str, resolution: str) -> None:
    world.attempt(lambda: world.app.resolve_issue(world.actor(user), world.code, world.issue,
                                                  resolution=resolution))


@then(step("the issue is {status}"))
def issue_status(world: Ledger, status: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().issue(world.issue)["status"] == status
