"""Signing in and out (Flask sessions), who is signed in, and which roles see which pages.

Passwords are checked against the credential table (`PMOApplication.check_password`), in
the same time whether or not the username exists (`check_password` here). The session
cookie holds only a server-side session id (web/sessions.py): signing out ends every session
of the person, and sessions expire. Every request checks its session and reloads the person
from the directory, so a revoked role or a deactivated person loses access at once.

`AREAS` (domain/commands.py, beside the command table it follows) says who may open what;
templates ask `may(area)` to show or hide links and forms, and `@requires(area)` refuses
the request server-side (403).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for

from domain.commands import ALL_ROLES, AREAS, QUEUE_ROLES
from domain.errors import DomainError
from web.errors import TooManyAttempts
from web.ledger_access import get_aggregates, get_pmo
from web.sessions import sessions

__all__ = ["ALL_ROLES", "AREAS", "QUEUE_ROLES", "User", "current_user", "may", "requires"]

bp = Blueprint("auth", __name__)


@dataclass(frozen=True)
class User:
    username: str
    name: str
    roles: tuple[str, ...]

    def may(self, area: str) -> bool:
        return any(r in self.roles for r in AREAS[area])


def current_user() -> User | None:
    """The signed-in, active person (None when nobody is, or they were deactivated)."""
    if "user" in g:
        return g.user
    # Anonymous until the directory answers: if the database fails here, the error page
    # renders without asking it again (and waiting out its retries a second time).
    g.user = user = None
    username = sessions().current()
    if username:
        directory = get_aggregates().directory()
        if directory.is_active(username):
            person = directory.person(username)
            roles = sorted({grant["role"] for grant in person.get("roles", ())})
            user = User(username, person["name"], tuple(roles))
        else:  # deactivated (here or elsewhere): every session of theirs ends
            sessions().end_all(username)
            session.clear()
    g.user = user
    return user


def may(area: str) -> bool:
    user = current_user()
    return user is not None and user.may(area)


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("auth.sign_in", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped


def requires(area: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Signed in (else redirect to sign in) and holding a role of `area` (else 403)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("auth.sign_in", next=request.full_path))
            if not user.may(area):
                abort(403, description=f"{user.name} ({', '.join(user.roles) or 'no role'}) "
                                       f"may not open this page")
            return view(*args, **kwargs)

        wrapped.area = area  # type: ignore[attr-defined]
        return wrapped

    return decorate


def require_queue_role(role: str) -> None:
    """Abort 403 unless the signed-in person holds `role` (a queue's role)."""
    if role not in QUEUE_ROLES:
        abort(404)
    if not may(f"queue:{role}"):
        abort(403, description=f"this is the {role} review queue")


def check_password(pmo: Any, username: str, password: str) -> bool:
    """True when `password` is the active person `username`'s (the sign-in form and the API's
    token endpoint). A username without a password costs the same hashing as one with: the
    password is checked against a dummy hash made by the method passwords are set with, so
    the answer's timing does not tell which usernames exist."""
    from werkzeug.security import check_password_hash

    if not pmo.credentials.has_password(username):
        check_password_hash(_dummy_hash(pmo.password_method), password)
        return False
    try:
        return bool(pmo.check_password(username, password))
    except DomainError:
        return False


_DUMMY_HASHES: dict[str, str] = {}


def _dummy_hash(method: str) -> str:
    """A hash of a random password by `method`, made once per process and method."""
    if method not in _DUMMY_HASHES:
        from werkzeug.security import generate_password_hash

        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_urlsafe(16), method=method)
    return _DUMMY_HASHES[method]


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("portfolio.index")


@bp.route("/signin", methods=["GET", "POST"])
def sign_in() -> Any:
    from web.forms import FormErrors, SignInSchema, load

    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    message = None
    status = 200
    if request.method == "POST":
        try:
            data = load(SignInSchema())
            values = {"username": data["username"]}
            if check_password(get_pmo(), data["username"], data["password"]):
                sessions().start(data["username"])
                return redirect(_safe_next(request.args.get("next")))
            message, status = "Unknown username or wrong password.", 401
        except FormErrors as e:
            values, errors, status = e.values, e.errors, 422
            values.pop("password", None)
    return render_template("signin.html", values=values, errors=errors, message=message), status


@bp.errorhandler(TooManyAttempts)
def locked_out(error: TooManyAttempts) -> Any:
    """The sign-in form again, saying why it is refused and for how long (web/throttle.py)."""
    username = request.form.get("username", "")
    html = render_template("signin.html", values={"username": username}, errors={},
                           message=f"Sign-in refused: {error.message}.")
    return html, 429, {"Retry-After": str(error.retry_after)}


@bp.post("/signout")
def sign_out() -> Any:
    """Every session of the signed-in person ends, on every device (web/sessions.py)."""
    user = current_user()
    if user is not None:
        sessions().end_all(user.username)
    sessions().forget()
    return redirect(url_for("auth.sign_in"))
