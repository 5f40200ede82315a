"""Small helpers the page blueprints share: query-string dates, the acting person."""

from __future__ import annotations

from datetime import date

from flask import abort, request

from domain.services import Actor
from web.auth import current_user
from web.ledger_access import get_pmo, get_read_models, passphrase


def business_date(name: str = "as_of") -> date:
    """A business date from the query string (YYYY-MM-DD), default today (UTC); 400 when malformed."""
    text = (request.args.get(name) or "").strip()
    if not text:
        return get_read_models().today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(400, description=f"{name} {text!r} is not a date (YYYY-MM-DD)")


def acting() -> Actor:
    """The signed-in person as an Actor holding their signing key."""
    user = current_user()
    if user is None:
        abort(401)
    return get_pmo().actor(user.username, passphrase())
