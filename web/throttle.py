"""The sign-in rate limit: failed sign-ins counted per username and per client address.

    install(app)   # in create_app: guards POST /signin and POST /api/v1/tokens

More than `LOGIN_MAX_FAILURES` failures for one username (default 5), or
`LOGIN_MAX_FAILURES_PER_ADDRESS` from one client address (default 20: several people behind
one office NAT should not lock each other out by mistyping), within
`LOGIN_WINDOW_SECONDS` (default 300) and the next attempt is refused with 429 and
Retry-After, before the password is even checked (so a locked-out guesser learns nothing
and costs no password hashing). A successful sign-in clears its username's count, never
the address's.

The counts live in a small side table of the ledger's database (`pmo_login_failures`), not
in process memory, so every gunicorn worker sees the same count; and not in the event log:
a failed sign-in is no act on a project, nobody signs it, and the log must not fill with
what anyone on the network can cause. Rows older than the window are deleted as new
failures arrive. The address is the TCP peer (gunicorn's REMOTE_ADDR).

What counts: a 401 answer from a guarded endpoint is a failure, a 2xx/3xx a success;
anything else (a malformed form, a CSRF refusal, a 429) counts as neither.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import PersistenceError
from flask import Flask, Response, current_app, request

from web.errors import TooManyAttempts
from web.ledger_access import get_pmo

TABLE = "pmo_login_failures"
GUARDED = frozenset({"auth.sign_in", "api_tokens.issue_token"})
_READY_KEY = "pmo_login_failures_ready"


@dataclass(frozen=True)
class Limits:
    per_username: int = 5
    per_address: int = 20
    window: float = 300.0

    @classmethod
    def of(cls, app: Flask) -> Limits:
        return cls(int(app.config.get("LOGIN_MAX_FAILURES", cls.per_username)),
                   int(app.config.get("LOGIN_MAX_FAILURES_PER_ADDRESS", cls.per_address)),
                   float(app.config.get("LOGIN_WINDOW_SECONDS", cls.window)))


class LoginThrottle:
    """Failed sign-ins in the ledger database's side table (`recorder.execute/fetch`)."""

    def __init__(self, pmo: Any, limits: Limits) -> None:
        self.recorder = pmo.recorder
        self.table = f"{getattr(self.recorder, 'schema_prefix', '')}{TABLE}"
        self.limits = limits

    def ensure_table(self) -> None:
        """Create the table and its index (idempotent; safe when workers race)."""
        for attempt in range(3):
            try:
                self.recorder.execute(f"CREATE TABLE IF NOT EXISTS {self.table} "
                                      "(subject TEXT NOT NULL, failed_at DOUBLE PRECISION NOT NULL)")
                self.recorder.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_subject "
                                      f"ON {self.table} (subject, failed_at)")
                return
            except PersistenceError:
                # Two PostgreSQL sessions creating it at once: one loses on the catalogue.
                if attempt == 2:
                    raise

    @staticmethod
    def subjects(username: str, address: str) -> tuple[str, str]:
        return f"user:{username.strip().lower()[:200]}", f"addr:{address}"

    def wait(self, username: str, address: str, now: float | None = None) -> int:
        """Seconds until another attempt is allowed (0: allowed now)."""
        now = time.time() if now is None else now
        user, addr = self.subjects(username, address)
        rows = self.recorder.fetch(
            f"SELECT subject, failed_at FROM {self.table} WHERE subject IN (?, ?) AND failed_at > ?",
            (user, addr, now - self.limits.window))
        waits = [self._wait([t for s, t in rows if s == subject], limit, now)
                 for subject, limit in ((user, self.limits.per_username),
                                        (addr, self.limits.per_address))]
        return max(waits)

    def _wait(self, times: Sequence[float], limit: int, now: float) -> int:
        if len(times) < limit:
            return 0
        # Allowed again once all but limit-1 of these failures have left the window.
        oldest_that_must_expire = sorted(times)[len(times) - limit]
        return max(1, math.ceil(oldest_that_must_expire + self.limits.window - now))

    def failed(self, username: str, address: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for subject in self.subjects(username, address):
            self.recorder.execute(f"INSERT INTO {self.table} (subject, failed_at) VALUES (?, ?)",
                                  (subject, now))
        self.recorder.execute(f"DELETE FROM {self.table} WHERE failed_at <= ?",
                              (now - self.limits.window,))

    def succeeded(self, username: str, address: str) -> None:
        user, _ = self.subjects(username, address)
        self.recorder.execute(f"DELETE FROM {self.table} WHERE subject = ?", (user,))


def throttle(app: Flask | None = None) -> LoginThrottle:
    """The throttle over the process's ledger (its table created on first use)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    guard = LoginThrottle(get_pmo(app), Limits.of(app))
    if not app.extensions.get(_READY_KEY):
        guard.ensure_table()
        app.extensions[_READY_KEY] = True
    return guard


def _attempt() -> tuple[str, str] | None:
    """(username, client address) of a sign-in attempt on a guarded endpoint, else None."""
    if request.method != "POST" or request.endpoint not in GUARDED:
        return None
    if request.is_json:
        body = request.get_json(silent=True)
        username = body.get("username") if isinstance(body, dict) else None
    else:
        username = request.form.get("username")
    if not isinstance(username, str) or not username.strip():
        return None  # refused as malformed by the view; nothing to count
    return username, request.remote_addr or "unknown"


def _refuse_when_locked_out() -> None:
    attempt = _attempt()
    if attempt is not None:
        seconds = throttle().wait(*attempt)
        if seconds:
            raise TooManyAttempts(seconds)


def _count(response: Response) -> Response:
    if 400 <= response.status_code != 401:
        return response  # neither a failure nor a success (and the body may be unreadable)
    attempt = _attempt()
    if attempt is None:
        return response
    try:
        if response.status_code == 401:
            throttle().failed(*attempt)
        else:
            throttle().succeeded(*attempt)
    except PersistenceError as e:
        # The answer is already decided; the database failing just now must not turn it
        # into a 500 (an after_request error escapes the error handlers).
        current_app.logger.warning("sign-in attempt not counted: %s: %s", type(e).__name__, e)
    return response


def install(app: Flask) -> None:
    """Guard the sign-in form and the token endpoint (after CSRF, which runs first)."""
    app.before_request(_refuse_when_locked_out)
    app.after_request(_count)
