"""The directory: people, their roles (global or per project) and their signing key ids.

One aggregate for the whole ledger, so a grant and a revocation are totally ordered and
"did she hold the fiscal role at that moment" has one answer. The keys themselves are in
the ledger key ring (registered in the same transaction); passwords and API tokens are
not events and live in a side table (see services.py).
"""

from __future__ import annotations

import re
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.common import RESPONSIBILITY, ROLES, DomainEvent, SignedEvent, Who, reason_text, text
from domain.errors import (
    DuplicateError,
    InvalidStateError,
    NotAuthorisedError,
    NotFoundError,
    SegregationOfDutiesError,
    ValidationError,
)

DIRECTORY_ID = uuid5(NAMESPACE_URL, "urn:pmo-ledger:directory")
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{0,39}$")
_T = "domain.directory:Directory"


class Directory(Aggregate):
    """Every person the ledger knows, with the roles they hold and their current key."""

    TOPIC = _T
    class_version = 1

    class Created(DomainEvent, Aggregate.Created):
        """Abstract base of this aggregate's creation event (never recorded itself)."""

        TOPIC = f"{_T}.Created"

    class Opened(Created):
        TOPIC = f"{_T}.Opened"
        class_version = 1
        actor_id: str
        actor_name: str
        meaning: str

    class PersonEnrolled(SignedEvent):
        TOPIC = f"{_T}.PersonEnrolled"
        username: str
        name: str
        email: str
        key_id: str
        reason: str

        def apply(self, d: Directory) -> None:
            d.people[self.username] = {
                "username": self.username, "name": self.name, "email": self.email,
                "key_id": self.key_id, "roles": [], "active": True,
            }

    class RoleGranted(SignedEvent):
        TOPIC = f"{_T}.RoleGranted"
        username: str
        role: str
        project: str | None
        reason: str

        def apply(self, d: Directory) -> None:
            d.people[self.username]["roles"].append({"role": self.role, "project": self.project})

    class RoleRevoked(SignedEvent):
        TOPIC = f"{_T}.RoleRevoked"
        username: str
        role: str
        project: str | None
        reason: str

        def apply(self, d: Directory) -> None:
            grant = {"role": self.role, "project": self.project}
            d.people[self.username]["roles"].remove(grant)

    class KeyReplaced(SignedEvent):
        TOPIC = f"{_T}.KeyReplaced"
        username: str
        key_id: str
        previous_key_id: str
        reason: str

        def apply(self, d: Directory) -> None:
            d.people[self.username]["key_id"] = self.key_id

    class PersonDeactivated(SignedEvent):
        TOPIC = f"{_T}.PersonDeactivated"
        username: str
        reason: str

        def apply(self, d: Directory) -> None:
            d.people[self.username]["active"] = False

    def __init__(self, actor_id: str, actor_name: str, meaning: str) -> None:
        self.people: dict[str, dict[str, Any]] = {}

    @staticmethod
    def create_id() -> UUID:
        return DIRECTORY_ID

    @classmethod
    def open(cls, *, by: Who) -> Directory:
        return cls._create(cls.Opened, id=DIRECTORY_ID, **by.signed(RESPONSIBILITY))

    # Queries --------------------------------------------------------------------------

    def person(self, username: str) -> dict[str, Any]:
        try:
            return self.people[username]
        except KeyError:
            raise NotFoundError(f"no person {username!r} in the directory", field="username") from None

    def is_active(self, username: str) -> bool:
        return bool(self.people.get(username, {}).get("active"))

    def has_role(self, username: str, role: str, project: str | None = None) -> bool:
        """True when `username` holds `role` globally or for `project`, and is active."""
        if not self.is_active(username):
            return False
        project = _scope(project)
        return any(
            g["role"] == role and (g["project"] is None or g["project"] == project)
            for g in self.people[username]["roles"]
        )

    def roles_of(self, username: str, project: str | None = None) -> list[str]:
        """The roles `username` may act in for `project` (global ones included)."""
        return sorted({r for r in ROLES if self.has_role(username, r, project)})

    # Rules ----------------------------------------------------------------------------

    def check_active(self, username: str) -> dict[str, Any]:
        person = self.person(username)
        if not person["active"]:
            raise NotAuthorisedError(f"{person['name']} has been deactivated and cannot act")
        return person

    def check_can_sign(self, username: str, key_id: str) -> None:
        """The person exists, is active, and signs with the key the directory holds for them."""
        person = self.check_active(username)
        if person["key_id"] != key_id:
            raise NotAuthorisedError(
                f"the signing key used is not {person['name']}'s current key; it cannot act for them"
            )

    def check_role(self, username: str, roles: tuple[str, ...], project: str | None, action: str) -> None:
        """Refuse unless `username` holds one of `roles` (for `project`) at this moment."""
        if any(self.has_role(username, r, project) for r in roles):
            return
        where = f" on {project}" if project else ""
        names = " or ".join(roles)
        raise NotAuthorisedError(
            f"{self.person(username)['name']} may not {action}{where}: "
            f"it needs the {names} role, which they do not hold now"
        )

    def check_not_admin(self, username: str, project: str | None, action: str) -> None:
        """Administrators approve nothing: they hold the keys to the directory."""
        if self.has_role(username, "admin", project):
            raise SegregationOfDutiesError(
                f"{self.person(username)['name']} is an administrator and may not {action}: "
                "administrators approve nothing"
            )

    @staticmethod
    def check_role_name(role: str, project: str | None) -> None:
        if role not in ROLES:
            raise ValidationError(f"unknown role {role!r}; roles are {', '.join(ROLES)}", field="role")
        if role == "admin" and project is not None:
            raise ValidationError("the admin role is global, not per project", field="project")

    # Commands -------------------------------------------------------------------------

    def enrol(self, *, username: str, name: str, email: str, key_id: str, by: Who, reason: str) -> None:
        if not isinstance(username, str) or not _USERNAME.match(username):
            raise ValidationError(
                "a username is 1-40 lower-case letters, digits, '.', '_' or '-', starting "
                "with a letter", field="username")
        if username in self.people:
            raise DuplicateError(f"{username!r} is already enrolled", field="username")
        self.trigger_event(
            self.PersonEnrolled, username=username, name=text(name, "name", limit=120),
            email=text(email, "email", required=False, limit=200), key_id=key_id,
            reason=text(reason, "reason", required=False), **by.signed(RESPONSIBILITY),
        )

    def grant_role(self, *, username: str, role: str, project: str | None, by: Who, reason: str) -> None:
        project = _scope(project)
        self.check_role_name(role, project)
        person = self.check_active(username)
        if {"role": role, "project": project} in person["roles"]:
            raise DuplicateError(f"{person['name']} already holds {_grant(role, project)}")
        self.trigger_event(self.RoleGranted, username=username, role=role, project=project,
                           reason=reason_text(reason), **by.signed(RESPONSIBILITY))

    def revoke_role(self, *, username: str, role: str, project: str | None, by: Who, reason: str) -> None:
        project = _scope(project)
        self.check_role_name(role, project)
        person = self.person(username)
        if {"role": role, "project": project} not in person["roles"]:
            raise InvalidStateError(f"{person['name']} does not hold {_grant(role, project)}")
        if username == by.actor_id and role == "admin":
            # Keeps at least the acting administrator able to repair mistakes.
            raise SegregationOfDutiesError("an administrator cannot revoke their own admin role")
        self.trigger_event(self.RoleRevoked, username=username, role=role, project=project,
                           reason=reason_text(reason), **by.signed(RESPONSIBILITY))

    def replace_key(self, *, username: str, key_id: str, by: Who, reason: str) -> None:
        person = self.check_active(username)
        self.trigger_event(self.KeyReplaced, username=username, key_id=key_id,
                           previous_key_id=person["key_id"], reason=reason_text(reason),
                           **by.signed(RESPONSIBILITY))

    def deactivate(self, *, username: str, by: Who, reason: str) -> None:
        self.check_active(username)
        if username == by.actor_id:
            raise SegregationOfDutiesError("an administrator cannot deactivate themselves")
        self.trigger_event(self.PersonDeactivated, username=username,
                           reason=reason_text(reason), **by.signed(RESPONSIBILITY))


def _scope(project: str | None) -> str | None:
    """Project codes are matched case-insensitively (IT-2026-014 == it-2026-014)."""
    if project is None or not str(project).strip():
        return None
    return str(project).strip().upper()


def _grant(role: str, project: str | None) -> str:
    return f"the {role} role" + (f" on {project}" if project else " (all projects)")
