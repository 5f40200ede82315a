"""One's own API tokens: a page listing them (label, id, expiry, status) with a Revoke
button on each active one (a CSRF-protected form). Revocation is at once: the next API
request with the token is answered 401. Tokens live in a side table, not the log, so
revoking writes no event; an administrator revokes others' tokens with
`DELETE /api/v1/tokens/{id}` or `pmo-ledger tokens revoke`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for

from web.auth import current_user, login_required
from web.ledger_access import get_pmo
from web.pages.common import acting

bp = Blueprint("tokens", __name__, url_prefix="/account/tokens")


@bp.get("")
@login_required
def index() -> Any:
    user = current_user()
    assert user is not None  # login_required
    return render_template("account/tokens.html", tokens=get_pmo().api_tokens(user.username))


@bp.post("/<token_id>/revoke")
@login_required
def revoke(token_id: str) -> Any:
    get_pmo().revoke_api_token(acting(), token_id)  # 404 unknown, 403 someone else's
    flash(f"Token {token_id} revoked: it no longer works.", "ok")
    return redirect(url_for("tokens.index"))
