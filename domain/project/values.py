"""Values of the project aggregate's state: its id, its constants, and the checks that turn
a command's input into state (shared by the aggregate and its command mixins)."""

from __future__ import annotations

import copy
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import validate as v
from domain.common import (
    text,
)
from domain.errors import (
    ValidationError,
)
from domain.money import ZERO, non_negative

_T = "domain.project:Project"
CATEGORIES = ("labour", "hardware", "software", "vendor services", "training", "contingency")
FUNDING_TYPES = ("capital", "operating")
RAG = ("green", "amber", "red")
DECISIONS = ("approved", "approved-with-conditions", "rejected")
SEVERITIES = ("low", "medium", "high", "critical")
RISK_STATUSES = ("open", "mitigating", "occurred")
CHARTER_FIELDS = (
    "title", "sponsor", "project_manager", "business_relationship_manager", "objectives",
    "scope_statement", "start_date", "target_finish", "fund", "cost_centre", "funding_type",
)
_PROJECT_CODE = re.compile(v.PROJECT_CODE_PATTERN)
_CURRENCY = re.compile(v.CURRENCY_PATTERN)


def project_id(code: str) -> UUID:
    """A project's id is derived from its code, so the code identifies it for ever."""
    return uuid5(NAMESPACE_URL, f"urn:pmo-ledger:project:{str(code).strip().upper()}")


# Values deepcopy returns as they are (immutable): a dict of only these is copied flat.
_ATOMS = frozenset({str, int, bool, type(None), Decimal, date, datetime, UUID})


def _copy(value: Any) -> Any:
    # State never shares mutable objects with events: an event is a record, not a variable.
    # Most changes are one flat dict of immutable values, whose shallow copy is what
    # deepcopy would give, several times faster (a long project folds thousands of them).
    if type(value) is dict and all(type(v) in _ATOMS for v in value.values()):
        return dict(value)
    return copy.deepcopy(value)



def _new_gate() -> dict[str, Any]:
    return {"status": "not-requested", "round": 0, "requested_by": None, "requested_at": None,
            "artifacts": [], "note": "", "signoffs": [], "required_roles": [], "passed_at": None,
            "conditions": [], "conditions_met": []}


def _new_line(name: str, category: str, amount: Decimal) -> dict[str, Any]:
    return {"name": name, "category": category, "original": amount, "budget": amount,
            "transferred": ZERO, "cr_adjusted": ZERO, "committed": ZERO, "spent": ZERO,
            "pending": ZERO}


def _approval(event: Any) -> dict[str, Any]:
    return {"actor_id": event.actor_id, "actor_name": event.actor_name, "role": event.role,
            "reason": event.reason, "at": event.timestamp}


def _project_code(code: Any) -> str:
    if not isinstance(code, str) or not _PROJECT_CODE.match(code.strip()):
        raise ValidationError(f"project code {code!r} must look like IT-2026-014", field="code")
    return code.strip()


def _charter_value(field: str, value: Any) -> Any:
    if field in ("start_date", "target_finish"):
        return v.day(value, field)
    if field == "funding_type":
        return v.choice(value, field, FUNDING_TYPES)
    if field == "objectives":
        value = v.items(value, field, at_least=1, what="objectives")
        return [text(o, "objectives", limit=500) for o in value]
    limit = 4000 if field == "scope_statement" else 200
    return text(value, field, limit=limit)


def _check_charter_dates(charter: dict[str, Any]) -> None:
    v.period(charter["start_date"], charter["target_finish"], "start_date", "target_finish")


def _milestone_changes(state: dict[str, Any], *, name: Any, planned_start: Any,
                       planned_finish: Any, budgeted_value: Any) -> dict[str, Any]:
    """The effective changes to a milestone (values that differ), validated together."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = text(name, "name", limit=200)
    if planned_start is not None:
        changes["planned_start"] = v.day(planned_start, "planned_start")
    if planned_finish is not None:
        changes["planned_finish"] = v.day(planned_finish, "planned_finish")
    if budgeted_value is not None:
        changes["budgeted_value"] = non_negative(budgeted_value, "budgeted_value")
    changes = {k: val for k, val in changes.items() if state[k] != val}
    if not changes:
        raise ValidationError("the milestone change changes nothing", field="milestone")
    merged = {**state, **changes}
    v.period(merged["planned_start"], merged["planned_finish"], "planned_start", "planned_finish")
    return changes


def _risk_changes(probability: Any, impact: Any, owner: Any, mitigation: Any,
                  status: Any) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if probability is not None:
        changes["probability"] = v.whole(probability, "probability", 1, 5)
    if impact is not None:
        changes["impact"] = v.whole(impact, "impact", 1, 5)
    if owner is not None:
        changes["owner"] = text(owner, "owner", limit=120)
    if mitigation is not None:
        changes["mitigation"] = text(mitigation, "mitigation")
    if status is not None:
        changes["status"] = v.choice(status, "status", RISK_STATUSES)
    return changes


def _artifacts(artifacts: Any) -> list[dict[str, Any]]:
    if not isinstance(artifacts, list) or not artifacts:
        raise ValidationError("a gate review needs at least one artifact", field="artifacts")
    v.items(artifacts, "artifacts", what="artifacts")
    out = []
    for a in artifacts:
        if not isinstance(a, dict):
            raise ValidationError("each artifact is a name with an optional sha256 and uri",
                                  field="artifacts")
        out.append({"name": text(a.get("name"), "artifacts", limit=200),
                    "sha256": v.sha256(a.get("sha256"), "artifacts"),
                    "uri": text(a.get("uri"), "artifacts", required=False, limit=500)})
    return out


def _check_unique(keys: list[str], field: str, kind: str) -> None:
    if len(keys) != len(set(keys)):
        raise ValidationError(f"each {kind} may appear only once in {field}", field=field)
