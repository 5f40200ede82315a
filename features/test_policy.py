"""Policy changes (features/policy.feature)."""

from datetime import timedelta

from pytest_bdd import given, scenarios, then, when

from features.conftest import Ledger, money, step

scenarios("policy.feature")

SETTINGS = {"two-officer threshold": "dual_fiscal_threshold", "sponsor threshold": "sponsor_threshold"}


def change(world: Ledger, user: str, changes: dict, reason: str) -> None:
    world.attempt(lambda: world.app.change_policy(world.actor(user), changes, reason=reason))


@when(step('{user:w} sets the {setting} to {amount} because "{reason}"'))
def sets_threshold(world: Ledger, user: str, setting: str, amount: str, reason: str) -> None:
    change(world, user, {SETTINGS[setting]: amount}, reason)


@when(step('{user:w} makes {role:w} the change approver because "{reason}"'))
def sets_change_approver(world: Ledger, user: str, role: str, reason: str) -> None:
    change(world, user, {"change_approver_role": role}, reason)


@when(step('{user:w} requires only {role:w} to sign off {gate} because "{reason}"'))
def sets_gate_signers(world: Ledger, user: str, role: str, gate: str, reason: str) -> None:
    change(world, user, {"gate_signoff_roles": {gate: [role]}}, reason)


@when(step('{user:w} submits a change request "{title}" adding {amount} to {line}'))
def submits_cr(world: Ledger, user: str, title: str, amount: str, line: str) -> None:
    def command() -> str:
        world.change_request = world.app.submit_change_request(
            world.actor(user), world.code, title=title, description=title,
            justification="capacity", cost_impacts=[{"line": line, "amount": amount}])
        return world.change_request

    world.attempt(command)


@when(step("{user:w} approves that change request"))
def approves_cr(world: Ledger, user: str) -> None:
    world.attempt(lambda: world.app.approve_change_request(world.actor(user), world.code,
                                                           world.change_request))


@when(step("{user:w} requests the {gate} review"))
def requests_review(world: Ledger, user: str, gate: str) -> None:
    world.attempt(lambda: world.app.request_gate_review(world.actor(user), world.code, gate,
                                                        artifacts=[{"name": "signed-contract.pdf"}]))


@given(step("{user:w} has requested the {gate} review"))
def has_requested_review(world: Ledger, user: str, gate: str) -> None:
    world.app.request_gate_review(world.actor(user), world.code, gate,
                                  artifacts=[{"name": "signed-contract.pdf"}])


@when(step("{user:w} signs off the {gate} review"))
def signs_off(world: Ledger, user: str, gate: str) -> None:
    world.attempt(lambda: world.app.sign_off_gate(world.actor(user), world.code, gate,
                                                  decision="approved"))


@then(step("gate {gate} has passed"))
def gate_passed(world: Ledger, gate: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().gates[gate]["status"] == "passed"


@then(step("gate {gate} is still {status}"))
def gate_still(world: Ledger, gate: str, status: str) -> None:
    world.no_unclaimed_refusal()
    assert world.project().gates[gate]["status"] == status


@then(step("the rules in force before the change still required two officers only over {amount}"))
def rules_before(world: Ledger, amount: str) -> None:
    world.no_unclaimed_refusal()
    history = world.app.policy().history
    changed_at = history[-1]["effective_from"]
    before = world.app.rules(changed_at - timedelta(microseconds=1))
    assert before.dual_fiscal_threshold == money(amount)


@then(step("the rules in force now require two officers over {amount}"))
def rules_now(world: Ledger, amount: str) -> None:
    assert world.app.rules().dual_fiscal_threshold == money(amount)
