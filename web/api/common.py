"""What every API module shares: bearer authentication, read permissions, JSON values,
and the log position of the event a command recorded."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from flask import current_app, g, request

from domain.errors import NotAuthorisedError
from domain.project import project_id
from domain.services import Actor, PMOApplication
from web.errors import Unauthorised
from web.idempotency import committed_receipt
from web.ledger_access import get_aggregates, get_pmo, passphrase

# Who may read what. Projects: anyone holding a role (globally or on that project).
# The whole log, its verification and checkpoints, and compliance findings: oversight.
OVERSIGHT_ROLES = ("auditor", "pmo", "admin")

_ACTORS_KEY = "pmo_api_actors"
_ACTORS_LOCK = threading.Lock()


def pmo() -> PMOApplication:
    return get_pmo()


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_username() -> str:
    """The active person the request's bearer token belongs to; 401 otherwise."""
    if "api_username" not in g:
        token = bearer_token()
        if token is None:
            raise Unauthorised("this endpoint needs Authorization: Bearer <token> "
                               "(POST /api/v1/tokens gives one)")
        username = pmo().user_for_token(token)
        if username is None:
            raise Unauthorised("the bearer token is unknown, revoked, or its owner is deactivated")
        g.api_username = username
    return g.api_username


def current_actor() -> Actor:
    """The signing Actor of the request's person (their server-held key, decrypted once
    per process and key)."""
    username = current_username()
    app = pmo()
    person = get_aggregates().directory().check_active(username)
    cache: dict[tuple[str, str], Actor] = current_app.extensions.setdefault(_ACTORS_KEY, {})
    key = (username, person["key_id"])
    actor = cache.get(key)
    if actor is None:
        actor = app.actor(username, passphrase())
        with _ACTORS_LOCK:
            cache[key] = actor
    return actor


def require_reader(code: str | None = None) -> str:
    """Anyone active who holds a role (for `code`, global roles included)."""
    username = current_username()
    directory = get_aggregates().directory()
    if code is None:
        person = directory.person(username)
        held = list(person["roles"]) if directory.is_active(username) else []
    else:
        held = directory.roles_of(username, code)
    if not held:
        raise NotAuthorisedError(f"{username} holds no role that may read this")
    return username


def require_oversight() -> str:
    username = current_username()
    directory = get_aggregates().directory()
    directory.check_role(username, OVERSIGHT_ROLES, None, "read the whole log and its findings")
    return username


# JSON values --------------------------------------------------------------------------------


# Values JSON takes as they are: the leaves of most aggregate state, answered without the
# chain of isinstance checks below (a project's full view has hundreds of thousands).
_AS_THEY_ARE = frozenset({str, int, bool, float, type(None)})


def jsonable(value: Any) -> Any:
    """Aggregate state as JSON: Decimal as a plain string (money keeps its two places),
    dates ISO, instants UTC with Z, tuples and sets as lists."""
    kind = type(value)
    if kind in _AS_THEY_ARE:
        return value
    if kind is dict:
        return {str(k): v if type(v) in _AS_THEY_ARE else jsonable(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _AS_THEY_ARE else jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return value


def ratio(value: Decimal | None) -> float | None:
    """A ratio shown to three places, as a JSON number (or null when not available)."""
    return None if value is None else float(value)


# Where a command's event sits in the log -------------------------------------------------------


def event_receipt(code: str, match: dict[str, Any] | None = None, topics: Iterable[str] = ()) -> Any:
    """The receipt of project `code`'s newest event this request appended whose payload
    holds every `match` item (and whose topic ends with one of `topics`, when given): what
    the save itself reported (web/idempotency.py watches the request's appends), so a
    concurrent write cannot be taken for it. None when the request appended none."""
    return committed_receipt(project_id(code), match, tuple(topics))
