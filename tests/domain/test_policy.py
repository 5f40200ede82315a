"""The approval policy: defaults, changes as events, judged by the rules in force."""

from datetime import UTC, datetime
from decimal import Decimal

from domain.errors import NotAuthorisedError, SegregationOfDutiesError, ValidationError
from tests.domain.helpers import CODE, refused


def test_defaults(world):
    rules = world.app.rules()
    assert rules.fiscal_approvals_needed(Decimal("25000.00")) == 1
    assert rules.fiscal_approvals_needed(Decimal("25000.01")) == 2
    assert not rules.sponsor_needed(Decimal("100000.00"))
    assert rules.sponsor_needed(Decimal("100000.01"))
    assert rules.gate_roles("G1") == ["fiscal", "pmo", "sponsor"]
    assert rules.change_approver_role == "sponsor"
    assert [rules.band(Decimal(x)) for x in ("0.95", "0.90", "0.89")] == ["green", "amber", "red"]
    assert rules.band(None) is None


def test_change_keeps_history_and_old_rules_answer_for_the_past(world):
    app = world.app
    before = datetime.now(UTC)
    app.change_policy(world.pmo, {"dual_fiscal_threshold": "10000.00", "gate_signoff_roles": {"G0": ["pmo"]}},
                      reason="council resolution 2026-12")
    policy = app.policy()
    assert len(policy.history) == 2
    assert policy.rules(before).dual_fiscal_threshold == Decimal("25000.00")
    now = app.rules()
    assert now.dual_fiscal_threshold == Decimal("10000.00")
    assert now.gate_roles("G0") == ["pmo"] and now.gate_roles("G1") == ["fiscal", "pmo", "sponsor"]
    event = list(app.events.get(policy.id))[-1]
    assert event.previous == {"dual_fiscal_threshold": Decimal("25000.00"),
                              "gate_signoff_roles": policy.history[0]["rules"]["gate_signoff_roles"]}
    assert (event.actor_id, event.reason) == ("pmo", "council resolution 2026-12")


def test_policy_change_applies_to_the_next_act(world):
    app = world.app
    world.baseline()
    app.change_policy(world.pmo, {"dual_fiscal_threshold": "100.00"}, reason="tighter control")
    e = world.expenditure("150.00")
    app.approve_expenditure(world.fiscal, CODE, e)
    assert app.project(CODE).expenditure(e)["status"] == "pending"  # needs a second officer now
    app.approve_expenditure(world.fiscal2, CODE, e)
    assert app.project(CODE).expenditure(e)["status"] == "approved"


def test_only_the_pmo_lead_changes_policy(world):
    app = world.app
    refused(app, NotAuthorisedError, app.change_policy, world.fiscal, {"pending_days_limit": 7},
            reason="x")
    refused(app, NotAuthorisedError, app.change_policy, world.admin, {"pending_days_limit": 7},
            reason="x")


def test_policy_validation(world):
    app, pmo = world.app, world.pmo
    for changes in (
        {"bogus": 1},
        {"sponsor_threshold": "1000.00"},  # below the dual threshold
        {"variance_amber": "0.96"},
        {"variance_green": 0.97},
        {"change_approver_role": "admin"},
        {"gate_signoff_roles": {"G2": ["admin"]}},
        {"gate_signoff_roles": {"G2": []}},
        {"pending_days_limit": 0},
        {"dual_fiscal_threshold": "-5"},
        {"pending_days_limit": 14},  # no change at all
    ):
        refused(app, ValidationError, app.change_policy, pmo, changes, reason="x")
    refused(app, ValidationError, app.change_policy, pmo, {"pending_days_limit": 7}, reason="")


def test_admin_cannot_sign_off_even_with_role(world):
    app = world.app
    world.baseline()
    app.grant_role(world.admin, "admin", "sponsor", reason="covering")
    app.request_gate_review(world.pm, CODE, "G0", artifacts=[{"name": "charter.pdf"}])
    refused(app, SegregationOfDutiesError, app.sign_off_gate, world.admin, CODE, "G0",
            decision="approved", match="administrators approve nothing")


def test_a_lowered_threshold_lets_the_next_fiscal_approval_complete(world):
    app = world.app
    world.baseline()
    e = world.expenditure("30000.00")
    app.approve_expenditure(world.fiscal, CODE, e)
    assert app.project(CODE).expenditure(e)["status"] == "pending"
    app.change_policy(world.pmo, {"dual_fiscal_threshold": "50000.00"}, reason="council raised limits")
    app.approve_expenditure(world.fiscal2, CODE, e)
    assert app.project(CODE).expenditure(e)["status"] == "approved"
