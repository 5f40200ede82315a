"""Server-side sessions: the signed session cookie carries only a random session id, and a
session is alive only while its row in a side table of the ledger's database says so.

    sessions().start(username)   # at sign-in: a new id in a new row (the old one ends)
    sessions().current()         # the signed-in username, or None (checked on every request)
    sessions().end_all(username) # sign-out, and after a password change, deactivation or
                                 # role revocation: every session of that person, everywhere

Flask's own session is a signed client cookie: it proves the server wrote it, not that it is
still wanted, so a copied cookie (with its CSRF token) used to keep working after its owner
signed out. Now the cookie names a row of `pmo_web_sessions` (only the id's SHA-256 is
stored), and the row is what counts:

- Signing out deletes every row of that person: all their sessions end, on every device and
  in every worker (the table is in the ledger's database, like the sign-in throttle's, so
  every gunicorn worker sees the same rows).
- An administrator's role revocation or deactivation (web/pages/admin.py) does the same for
  the person concerned; a deactivation made anywhere else ends them on their next request.
- A password change made anywhere (the domain's `set_password`, by whatever process) ends
  them too: each row keeps a digest of the password hash it was opened under, and a session
  whose person's hash has changed since is over.
- Idle timeout: a session unused for `IDLE_SECONDS` (2 hours) ends. Absolute lifetime: a
  session ends `ABSOLUTE_SECONDS` (12 hours) after sign-in however busy. Settings
  SESSION_IDLE_SECONDS and SESSION_ABSOLUTE_SECONDS change them. Last use is written at
  most once a minute (`TOUCH_SECONDS`), so the idle timeout is exact to a minute.
- Expired rows are deleted whenever someone signs in.

Sessions are no ledger facts, like failed sign-ins: nobody signs them and the log must not
fill with them.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from flask import Flask, current_app, session

from web.ledger_access import get_pmo

TABLE = "pmo_web_sessions"
IDLE_SECONDS = 2 * 3600
ABSOLUTE_SECONDS = 12 * 3600
TOUCH_SECONDS = 60
_READY_KEY = "pmo_web_sessions_ready"
_COOKIE_KEY = "sid"


def _now() -> float:
    return time.time()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class SessionStore:
    """The session rows of one ledger database (the side-table adapter, ledger/sidestore.py)."""

    def __init__(self, pmo: Any, *, idle: float = IDLE_SECONDS,
                 absolute: float = ABSOLUTE_SECONDS) -> None:
        self.pmo = pmo
        self.store = pmo.side_store
        self.table = self.store.table(TABLE)
        self.idle = idle
        self.absolute = absolute

    @property
    def credentials(self) -> str:
        return str(self.pmo.credentials.credentials_table)  # created on first use

    def ensure_table(self) -> None:
        """Create the table and its index (idempotent; safe when workers race)."""
        self.store.create([
            f"CREATE TABLE IF NOT EXISTS {self.table} (sid_hash TEXT PRIMARY KEY, "
            "username TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, "
            "seen_at DOUBLE PRECISION NOT NULL, stamp TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_username "
            f"ON {self.table} (username)",
        ])

    def _stamp(self, username: str) -> str:
        rows = self.store.fetch(
            f"SELECT password_hash FROM {self.credentials} WHERE username = ?", (username,))
        return _digest(rows[0][0]) if rows else ""

    def open(self, username: str) -> str:
        """A new session of `username`: its id (to give to the browser, never stored)."""
        now = _now()
        self.store.execute(f"DELETE FROM {self.table} WHERE seen_at < ? OR created_at < ?",
                              (now - self.idle, now - self.absolute))
        sid = secrets.token_urlsafe(32)
        self.store.execute(
            f"INSERT INTO {self.table} (sid_hash, username, created_at, seen_at, stamp) "
            "VALUES (?, ?, ?, ?, ?)", (_digest(sid), username, now, now, self._stamp(username)))
        return sid

    def alive(self, sid: str) -> str | None:
        """The username of a live session (its last use noted), else None (and it ends)."""
        rows = self.store.fetch(
            f"SELECT s.username, s.created_at, s.seen_at, s.stamp, c.password_hash "
            f"FROM {self.table} s LEFT JOIN {self.credentials} c ON c.username = s.username "
            "WHERE s.sid_hash = ?", (_digest(sid),))
        if not rows:
            return None
        username, created_at, seen_at, stamp, password_hash = rows[0]
        now = _now()
        if (now - seen_at > self.idle or now - created_at > self.absolute
                or stamp != (_digest(password_hash) if password_hash else "")):
            self.end(sid)
            return None
        if now - seen_at > TOUCH_SECONDS:
            self.store.execute(f"UPDATE {self.table} SET seen_at = ? WHERE sid_hash = ?",
                                  (now, _digest(sid)))
        return str(username)

    def end(self, sid: str) -> None:
        self.store.execute(f"DELETE FROM {self.table} WHERE sid_hash = ?", (_digest(sid),))

    def end_all(self, username: str) -> None:
        self.store.execute(f"DELETE FROM {self.table} WHERE username = ?", (username,))

    def count(self, username: str) -> int:
        """Sessions of `username` still in the table (live or not yet cleared)."""
        rows = self.store.fetch(f"SELECT COUNT(*) FROM {self.table} WHERE username = ?",
                                   (username,))
        return int(rows[0][0])

    # The request's own session (Flask's signed cookie holds the id) ------------------------

    def start(self, username: str) -> None:
        """Sign `username` in on this browser: any session it had ends, a new one begins."""
        self.forget()
        session[_COOKIE_KEY] = self.open(username)

    def current(self) -> str | None:
        """The username this browser's session is signed in as, or None (cookie cleared)."""
        sid = session.get(_COOKIE_KEY)
        if not isinstance(sid, str) or not sid:
            if session:
                session.pop("username", None)  # a cookie from before server-side sessions
            return None
        username = self.alive(sid)
        if username is None:
            session.clear()
        return username

    def forget(self) -> None:
        """End this browser's session only, and clear its cookie."""
        sid = session.get(_COOKIE_KEY)
        if isinstance(sid, str) and sid:
            self.end(sid)
        session.clear()


def sessions(app: Flask | None = None) -> SessionStore:
    """The session store over the process's ledger (its table created on first use)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    store = SessionStore(get_pmo(app),
                         idle=float(app.config.get("SESSION_IDLE_SECONDS") or IDLE_SECONDS),
                         absolute=float(app.config.get("SESSION_ABSOLUTE_SECONDS") or ABSOLUTE_SECONDS))
    if not app.extensions.get(_READY_KEY):
        store.ensure_table()
        app.extensions[_READY_KEY] = True
    return store
