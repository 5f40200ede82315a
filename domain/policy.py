"""The approval policy: thresholds, required gate signers, variance bands.

Changes are events and the whole history is kept, each version with the instant it came
into force, so any act can be judged by the rules in force when it happened
(`Policy.rules(at)`), not by today's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.common import RESPONSIBILITY, DomainEvent, SignedEvent, Who, reason_text
from domain.errors import ValidationError
from domain.money import positive

POLICY_ID = uuid5(NAMESPACE_URL, "urn:pmo-ledger:policy")
GATES = ("G0", "G1", "G2", "G3", "G4")
GATE_NAMES = {"G0": "initiation", "G1": "planning", "G2": "execution", "G3": "deployment",
              "G4": "closeout"}
# Who may sign off gates or approve changes: never the PM (who asks), the auditor (who
# must stay independent) or the administrator (who approves nothing).
SIGNOFF_ROLES = ("sponsor", "pmo", "fiscal")
CHANGE_APPROVER_ROLES = ("sponsor", "pmo")

DEFAULT_RULES: dict[str, Any] = {
    "dual_fiscal_threshold": Decimal("25000.00"),
    "sponsor_threshold": Decimal("100000.00"),
    "gate_signoff_roles": {
        "G0": ["pmo", "sponsor"],
        "G1": ["fiscal", "pmo", "sponsor"],
        "G2": ["pmo", "sponsor"],
        "G3": ["pmo", "sponsor"],
        "G4": ["fiscal", "pmo", "sponsor"],
    },
    "change_approver_role": "sponsor",
    "variance_green": Decimal("0.95"),
    "variance_amber": Decimal("0.90"),
    "pending_days_limit": 14,
}
_T = "domain.policy:Policy"


@dataclass(frozen=True)
class Rules:
    """One version of the policy, as plain values."""

    dual_fiscal_threshold: Decimal
    sponsor_threshold: Decimal
    gate_signoff_roles: dict[str, list[str]]
    change_approver_role: str
    variance_green: Decimal
    variance_amber: Decimal
    pending_days_limit: int

    def gate_roles(self, gate: str) -> list[str]:
        return list(self.gate_signoff_roles.get(gate, []))

    def fiscal_approvals_needed(self, amount: Decimal) -> int:
        """Over the dual threshold two different fiscal officers must approve."""
        return 2 if amount > self.dual_fiscal_threshold else 1

    def sponsor_needed(self, amount: Decimal) -> bool:
        return amount > self.sponsor_threshold

    def band(self, ratio: Decimal | None) -> str | None:
        """green / amber / red for a CPI or SPI; None when the ratio is not available."""
        if ratio is None:
            return None
        if ratio >= self.variance_green:
            return "green"
        return "amber" if ratio >= self.variance_amber else "red"


class Policy(Aggregate):
    """The approval policy, with every version it ever had."""

    TOPIC = _T
    class_version = 1

    class Created(DomainEvent, Aggregate.Created):
        """Abstract base of this aggregate's creation event (never recorded itself)."""

        TOPIC = f"{_T}.Created"

    class Adopted(Created):
        TOPIC = f"{_T}.Adopted"
        class_version = 1
        rules: dict[str, Any]
        actor_id: str
        actor_name: str
        meaning: str

        def apply(self, p: Policy) -> None:
            p.history = [{"effective_from": self.timestamp, "rules": dict(self.rules)}]

    class Changed(SignedEvent):
        TOPIC = f"{_T}.Changed"
        changes: dict[str, Any]
        previous: dict[str, Any]
        reason: str

        def apply(self, p: Policy) -> None:
            rules = {**p.history[-1]["rules"], **self.changes}
            p.history.append({"effective_from": self.timestamp, "rules": rules})

    def __init__(self, rules: dict[str, Any], actor_id: str, actor_name: str, meaning: str) -> None:
        self.history: list[dict[str, Any]] = []

    @staticmethod
    def create_id() -> UUID:
        return POLICY_ID

    @classmethod
    def adopt(cls, *, by: Who, rules: dict[str, Any] | None = None) -> Policy:
        chosen = {**DEFAULT_RULES, **(rules or {})}
        check_rules(chosen)
        return cls._create(cls.Adopted, id=POLICY_ID, rules=chosen, **by.signed(RESPONSIBILITY))

    # Queries --------------------------------------------------------------------------

    def rules(self, at: datetime | None = None) -> Rules:
        """The rules in force at UTC instant `at` (default: the latest)."""
        chosen = self.history[0]["rules"]
        for version in self.history:
            if at is None or version["effective_from"] <= at:
                chosen = version["rules"]
        return Rules(**chosen)

    # Commands -------------------------------------------------------------------------

    def change(self, *, changes: dict[str, Any], by: Who, reason: str) -> None:
        current = self.history[-1]["rules"]
        unknown = set(changes) - set(DEFAULT_RULES)
        if unknown:
            raise ValidationError(f"unknown policy setting(s): {', '.join(sorted(unknown))}")
        normalised = {k: _normalise(k, v) for k, v in changes.items()}
        if "gate_signoff_roles" in normalised:
            # Naming one gate changes that gate only.
            normalised["gate_signoff_roles"] = {
                **current["gate_signoff_roles"], **normalised["gate_signoff_roles"]}
        check_rules({**current, **normalised})
        effective = {k: v for k, v in normalised.items() if current[k] != v}
        if not effective:
            raise ValidationError("the policy already says this; nothing to change")
        self.trigger_event(
            self.Changed, changes=effective, previous={k: current[k] for k in effective},
            reason=reason_text(reason), **by.signed(RESPONSIBILITY),
        )


def _normalise(key: str, value: Any) -> Any:
    if key in ("dual_fiscal_threshold", "sponsor_threshold"):
        return positive(value, key)
    if key in ("variance_green", "variance_amber"):
        return _ratio(value, key)
    if key == "pending_days_limit":
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 365:
            raise ValidationError("pending_days_limit is a whole number of days, 1 to 365",
                                  field=key)
        return value
    if key == "gate_signoff_roles":
        if not isinstance(value, dict):
            raise ValidationError("gate_signoff_roles maps each gate to a list of roles", field=key)
        return {g: sorted(set(r)) for g, r in value.items()}
    return value


def _ratio(value: Any, key: str) -> Decimal:
    if isinstance(value, float):
        raise ValidationError(f"{key} must be a decimal such as 0.95", field=key)
    try:
        d = Decimal(str(value))
    except ArithmeticError:
        raise ValidationError(f"{key} must be a decimal such as 0.95", field=key) from None
    if not Decimal("0") < d <= Decimal("2"):
        raise ValidationError(f"{key} must be between 0 and 2", field=key)
    return d


def check_rules(rules: dict[str, Any]) -> None:
    """A whole policy version must make sense on its own."""
    if rules["sponsor_threshold"] < rules["dual_fiscal_threshold"]:
        raise ValidationError("the sponsor threshold cannot be below the two-officer threshold",
                              field="sponsor_threshold")
    if rules["variance_amber"] >= rules["variance_green"]:
        raise ValidationError("the amber band must start below the green band",
                              field="variance_amber")
    if rules["change_approver_role"] not in CHANGE_APPROVER_ROLES:
        raise ValidationError(
            f"change requests are approved by one of {', '.join(CHANGE_APPROVER_ROLES)}",
            field="change_approver_role")
    _check_gate_roles(rules["gate_signoff_roles"])


def _check_gate_roles(gate_roles: dict[str, list[str]]) -> None:
    if sorted(gate_roles) != list(GATES):
        raise ValidationError("gate_signoff_roles must name every gate G0..G4",
                              field="gate_signoff_roles")
    for gate, roles in gate_roles.items():
        if not roles or not set(roles) <= set(SIGNOFF_ROLES):
            raise ValidationError(
                f"gate {gate} needs at least one signer among {', '.join(SIGNOFF_ROLES)}",
                field="gate_signoff_roles")
