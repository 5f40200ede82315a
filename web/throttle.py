"""The sign-in rate limit: failed sign-ins counted per (username, client address), with an
exponential back-off, and a generous cap per client address.

    install(app)   # in create_app: guards POST /signin and POST /api/v1/tokens

The rules (defaults; each a setting of the app):

- Per username and address: the first `LOGIN_FREE_FAILURES` (3) failures cost nothing;
  after the n-th failure the next attempt for that username from that address must wait
  `LOGIN_BACKOFF_SECONDS` x 2^(n-3) seconds (1 s, 2 s, 4 s ...), at most
  `LOGIN_MAX_BACKOFF_SECONDS` (900: 15 minutes). The count is forgotten
  `LOGIN_FAILURE_MEMORY_SECONDS` (a day) after the pair's last failure, or at once when that
  username signs in from that address. Someone guessing at a person's password from
  elsewhere slows only themselves: the owner signs in from their own address as usual.
- Per address: `LOGIN_MAX_FAILURES_PER_ADDRESS` (100) failures for any usernames within
  `LOGIN_ADDRESS_WINDOW_SECONDS` (900) and the address waits until the oldest of them leave
  the window; against spraying one password over many usernames, and high enough that an
  office behind one NAT does not reach it by mistyping. A success does not clear it.
- An attempt that must wait is refused with 429 and Retry-After, before the password is
  checked (so it learns nothing and costs no hashing), and is not counted.

The client address is the TCP peer (gunicorn's REMOTE_ADDR); when that peer is a loopback
proxy (the same peers gunicorn trusts for X-Forwarded-Proto), the last address of its
X-Forwarded-For. An IPv6 client counts by its /64, which one host can usually fill.

The counts live in a small side table of the ledger's database (`pmo_login_failures`), not
in process memory, so every gunicorn worker sees the same count; and not in the event log:
a failed sign-in is no act on a project, nobody signs it, and the log must not fill with
what anyone on the network can cause. Rows older than they matter are deleted as new
failures arrive.

What counts: a 401 answer from a guarded endpoint is a failure, a 2xx/3xx a success;
anything else (a malformed form, a CSRF refusal, a 429) counts as neither.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import PersistenceError
from flask import Flask, Response, current_app, request

from web.errors import TooManyAttempts
from web.ledger_access import get_pmo

TABLE = "pmo_login_failures"
GUARDED = frozenset({"auth.sign_in", "api_tokens.issue_token"})
LOOPBACK = frozenset({"127.0.0.1", "::1"})
_READY_KEY = "pmo_login_failures_ready"


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Limits:
    free_failures: int = 3
    backoff: float = 1.0
    max_backoff: float = 900.0
    memory: float = 86400.0
    per_address: int = 100
    address_window: float = 900.0

    @classmethod
    def of(cls, app: Flask) -> Limits:
        def setting(name: str, default: Any) -> Any:
            return type(default)(app.config.get(name, default))

        return cls(setting("LOGIN_FREE_FAILURES", cls.free_failures),
                   setting("LOGIN_BACKOFF_SECONDS", cls.backoff),
                   setting("LOGIN_MAX_BACKOFF_SECONDS", cls.max_backoff),
                   setting("LOGIN_FAILURE_MEMORY_SECONDS", cls.memory),
                   setting("LOGIN_MAX_FAILURES_PER_ADDRESS", cls.per_address),
                   setting("LOGIN_ADDRESS_WINDOW_SECONDS", cls.address_window))

    def backoff_after(self, failures: int) -> float:
        """Seconds to wait after `failures` failures of one (username, address)."""
        if failures < self.free_failures:
            return 0.0
        return min(self.max_backoff, self.backoff * 2 ** (failures - self.free_failures))


class Refused(TooManyAttempts):
    """429: this username from this address waits, or this address does."""

    def __init__(self, retry_after: int, whose: str) -> None:
        super().__init__(retry_after)
        seconds = self.retry_after
        when = f"{seconds} second{'s' if seconds != 1 else ''}" if seconds < 120 else \
            f"about {round(seconds / 60)} minutes"
        self.message = f"too many failed sign-in attempts {whose}; try again in {when}"
        self.args = (self.message,)


class LoginThrottle:
    """Failed sign-ins in the ledger database's side table (the side-table adapter, ledger/sidestore.py)."""

    def __init__(self, pmo: Any, limits: Limits) -> None:
        self.store = pmo.side_store
        self.table = self.store.table(TABLE)
        self.limits = limits

    def ensure_table(self) -> None:
        """Create the table and its index (idempotent; safe when workers race)."""
        self.store.create([
            f"CREATE TABLE IF NOT EXISTS {self.table} "
            "(subject TEXT NOT NULL, failed_at DOUBLE PRECISION NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_subject ON {self.table} (subject, failed_at)",
        ])

    @staticmethod
    def subjects(username: str, address: str) -> tuple[str, str]:
        """(the pair's subject, the address's subject) as stored."""
        address = _grouped(address)
        return f"pair:{address} {username.strip().lower()[:200]}", f"addr:{address}"

    def wait(self, username: str, address: str, now: float | None = None) -> int:
        """Seconds until another attempt is allowed (0: allowed now)."""
        return self.refusal(username, address, now)[0]

    def refusal(self, username: str, address: str, now: float | None = None) -> tuple[int, str]:
        """(seconds to wait, whose wait it is); (0, "") when allowed now."""
        now = _now() if now is None else now
        limits = self.limits
        pair, addr = self.subjects(username, address)
        rows = self.store.fetch(
            f"SELECT subject, failed_at FROM {self.table} "
            "WHERE (subject = ? AND failed_at > ?) OR (subject = ? AND failed_at > ?)",
            (pair, now - limits.memory, addr, now - limits.address_window))
        pair_times = [t for s, t in rows if s == pair]
        addr_times = sorted(t for s, t in rows if s == addr)
        pair_wait = 0.0
        if pair_times:
            pair_wait = max(pair_times) + limits.backoff_after(len(pair_times)) - now
        addr_wait = 0.0
        if len(addr_times) >= limits.per_address:
            # Allowed again once all but per_address-1 of them have left the window.
            addr_wait = addr_times[len(addr_times) - limits.per_address] + limits.address_window - now
        if max(pair_wait, addr_wait) <= 0:
            return 0, ""
        if pair_wait >= addr_wait:
            return max(1, math.ceil(pair_wait)), "for this username from this address"
        return max(1, math.ceil(addr_wait)), "from this address"

    def failed(self, username: str, address: str, now: float | None = None) -> None:
        now = _now() if now is None else now
        for subject in self.subjects(username, address):
            self.store.execute(f"INSERT INTO {self.table} (subject, failed_at) VALUES (?, ?)",
                                  (subject, now))
        self.store.execute(
            f"DELETE FROM {self.table} WHERE failed_at <= ? OR (subject LIKE ? AND failed_at <= ?)",
            (now - self.limits.memory, "addr:%", now - self.limits.address_window))

    def succeeded(self, username: str, address: str) -> None:
        pair, _ = self.subjects(username, address)
        self.store.execute(f"DELETE FROM {self.table} WHERE subject = ?", (pair,))


def _grouped(address: str) -> str:
    """The address as counted: an IPv6 address by its /64, anything else as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_address() -> str:
    """The client's address: the TCP peer, or the last X-Forwarded-For address a loopback
    proxy added."""
    peer = request.remote_addr or "unknown"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if peer in LOOPBACK and forwarded.strip():
        return forwarded.split(",")[-1].strip()[:100] or peer
    return peer


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
    return username, client_address()


def _refuse_while_waiting() -> None:
    attempt = _attempt()
    if attempt is not None:
        seconds, whose = throttle().refusal(*attempt)
        if seconds:
            raise Refused(seconds, whose)


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
    app.before_request(_refuse_while_waiting)
    app.after_request(_count)
