"""What the compliance check remembers as the log streams by.

`People` follows the directory (who held which role, from which position, and when it was
revoked); `_ProjectTrack` keeps, next to a `Project` aggregate folded from the same events,
the chain positions and recording times the aggregate does not keep (who submitted what at
which position, each approval, each gate round...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from domain.policy import DEFAULT_RULES, Rules
from domain.project import Project

RULE_FIELDS = tuple(DEFAULT_RULES)


def rules_from(values: dict[str, Any]) -> Rules:
    merged = {**DEFAULT_RULES, **values}
    return Rules(**{k: merged[k] for k in RULE_FIELDS})


def day_of(at: datetime) -> date:
    """The UTC calendar date of a recording instant (naive instants are taken as UTC)."""
    if at.tzinfo is UTC or at.tzinfo is None:
        return at.date()
    return at.astimezone(UTC).date()


def scope(project: str | None) -> str | None:
    if project is None or not str(project).strip():
        return None
    return str(project).strip().upper()


@dataclass
class Person:
    name: str
    active: bool = True
    deactivated_at: int | None = None
    grants: dict[tuple[str, str | None], int] = field(default_factory=dict)
    revoked: dict[tuple[str, str | None], int] = field(default_factory=dict)


class People:
    """Roles as held at the current position of the stream."""

    def __init__(self) -> None:
        self.people: dict[str, Person] = {}

    def name(self, username: str, fallback: str = "") -> str:
        person = self.people.get(username)
        return person.name if person else (fallback or username)

    def enrol(self, username: str, name: str) -> None:
        self.people.setdefault(username, Person(name))

    def grant(self, username: str, role: str, project: str | None, position: int) -> None:
        person = self.people.setdefault(username, Person(username))
        key = (role, scope(project))
        person.grants[key] = position
        person.revoked.pop(key, None)

    def revoke(self, username: str, role: str, project: str | None, position: int) -> None:
        person = self.people.setdefault(username, Person(username))
        key = (role, scope(project))
        person.grants.pop(key, None)
        person.revoked[key] = position

    def deactivate(self, username: str, position: int) -> None:
        person = self.people.setdefault(username, Person(username))
        person.active = False
        person.deactivated_at = position

    def holds(self, username: str, role: str, project: str | None) -> int | None:
        """The position of the grant by which `username` holds `role` for `project` (a
        global grant counts for every project; `project=None` needs a global one), or None.
        `project` is a code as `scope` returns it (upper case)."""
        person = self.people.get(username)
        if person is None or not person.active:
            return None
        grants = person.grants
        found = grants.get((role, None))
        if found is None and project is not None:
            found = grants.get((role, project))
        return found

    def holds_any(self, username: str, roles: tuple[str, ...], project: str | None) -> bool:
        return any(self.holds(username, r, project) is not None for r in roles)

    def lost(self, username: str, roles: tuple[str, ...], project: str | None) -> tuple[int | None, str]:
        """Why `username` does not hold any of `roles`: (position, explanation)."""
        person = self.people.get(username)
        if person is None:
            return None, "they are not enrolled in the directory"
        if not person.active:
            return person.deactivated_at, "they had been deactivated"
        revocations = [person.revoked[k] for r in roles for k in ((r, None), (r, project))
                       if k in person.revoked]
        if revocations:
            return max(revocations), "it had been revoked"
        return None, "it was never granted to them"


@dataclass
class Item:
    """Something submitted for a decision: an expenditure, PO, transfer or change request."""

    kind: str
    key: str
    position: int
    at: datetime
    actor: str
    approvals: list[Approval] = field(default_factory=list)


@dataclass
class Approval:
    position: int
    actor: str
    actor_name: str
    role: str
    held: bool


@dataclass
class Round:
    """One review round of a gate."""

    gate: str
    round: int
    position: int | None
    at: datetime | None
    requester: str | None
    required: tuple[str, ...]
    signoffs: list[Signoff] = field(default_factory=list)


@dataclass
class Signoff:
    position: int
    actor: str
    actor_name: str
    role: str
    decision: str
    held: bool


@dataclass
class Purchase:
    """A purchase for the split-purchase rule: a PO, or an invoice citing no PO."""

    kind: str  # "expenditure" | "commitment"
    key: str
    vendor: str
    on: date
    amount: Decimal
    position: int
    limit: Decimal  # the single-approver threshold in force when it was submitted


@dataclass
class ProjectTrack:
    code: str
    project: Project
    chartered_at: int
    chartered_time: datetime
    scope: str | None = None  # the code as role grants name it
    items: dict[tuple[str, str], Item] = field(default_factory=dict)
    rounds: dict[tuple[str, int], Round] = field(default_factory=dict)
    passed: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    g1_passed: int | None = None
    closed_at: int | None = None
    closed_time: datetime | None = None
    po_approved: dict[str, tuple[int, date]] = field(default_factory=dict)
    waiting_for_po: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    cr_lines: dict[str, int] = field(default_factory=dict)  # line -> approving CR position
    purchases: list[Purchase] = field(default_factory=list)
    finish_set_at: dict[str, int] = field(default_factory=dict)
    percent_set_at: dict[str, int] = field(default_factory=dict)
    progress_at: dict[str, int] = field(default_factory=dict)
    last_report: tuple[int, datetime, str, frozenset[str]] | None = None  # pos, at, id, red
    figures_changed_at: int | None = None
    overdrawn: set[str] = field(default_factory=set)
