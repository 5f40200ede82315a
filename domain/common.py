"""What every domain event shares: who acted, in what capacity, and what the signature means.

"When" is the UTC `timestamp` on every event, taken from `domain.clock.now()` by the one
base class below (`DomainEvent`); "why" is a `reason` field on the events of actions that
take one. Event classes are explicit, past-tense and carry a
`class_version`: when a payload shape changes, bump it and add `upcast_vN_vN+1` static
methods on the class (the `eventsourcing` mapper applies them when reading old events).
Every event class also pins an explicit `TOPIC`, so moving or renaming a class never
orphans what is already in the log.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from domain import clock
from domain.errors import ValidationError

# The meaning of a signature (21 CFR Part 11 §11.50): what the signer attests to.
AUTHORSHIP = "authorship"  # I wrote / submitted this
REVIEW = "review"  # I reviewed this (a rejection, a sign-off with conditions)
APPROVAL = "approval"  # I approve this
RESPONSIBILITY = "responsibility"  # I take responsibility for this administrative act

ROLES = ("pm", "fiscal", "sponsor", "pmo", "auditor", "admin")


@dataclass(frozen=True)
class Who:
    """The person acting, as recorded in events, and the roles they hold for the project
    at this moment (looked up in the directory by the service, never trusted from input)."""

    actor_id: str
    actor_name: str
    roles: tuple[str, ...] = field(default=())

    def signed(self, meaning: str) -> dict[str, str]:
        """The who/meaning attributes every event carries."""
        return {"actor_id": self.actor_id, "actor_name": self.actor_name, "meaning": meaning}


class DomainEvent(Aggregate.Event):
    """Base of every domain event, creation events included (they also derive from
    `Aggregate.Created`): the one place that says where an event's recorded time comes
    from -- `domain.clock.now()`, the server's UTC clock (simulated only by the demo)."""

    @staticmethod
    def create_timestamp() -> datetime:
        return clock.now()


class SignedEvent(DomainEvent):
    """Base of every domain event after creation: who acted and what the signature means."""

    class_version = 1
    actor_id: str
    actor_name: str
    meaning: str


# Refused in text: C0 and C1 controls but tab and line breaks, and the bidi embeddings,
# overrides and isolates (U+202A-202E, U+2066-2069) that make "exe.txt" read "txt.exe".
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def text(value: Any, field_name: str, *, required: bool = True, limit: int = 4000) -> str:
    """A trimmed text input; empty refused when `required`. Control characters and bidi
    overrides are refused; text of nothing but invisible characters counts as empty."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{field_name} must be text", field=field_name)
    bad = _FORBIDDEN.search(value)
    if bad:
        raise ValidationError(
            f"{field_name} holds the control character U+{ord(bad.group()):04X}: type plain text",
            field=field_name)
    value = value.strip()
    if not "".join(c for c in value if unicodedata.category(c) not in ("Cf", "Zs")).strip():
        value = ""  # a zero-width space alone is no answer
    if required and not value:
        raise ValidationError(f"{field_name} is required", field=field_name)
    if len(value) > limit:
        raise ValidationError(f"{field_name} is longer than {limit} characters", field=field_name)
    return value


def reason_text(value: Any) -> str:
    """A mandatory reason: corrections, rejections, revocations and amendments need one."""
    return text(value, "reason")
