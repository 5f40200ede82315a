"""Passwords and API tokens: hashed, in side tables beside the log (never events).

A `CredentialStore` is the one place their SQL lives. It works over the ledger's
side-table adapter (`app.side_store`, ledger/sidestore.py), never the event recorder.
Who may set a password or issue a token is the services' business (domain/handlers/people.py);
this store only keeps the rows.

    store = CredentialStore(app.side_store)
    store.set_password_hash("pat", hashed)
    store.password_hash("pat")             -> the hash, or None
    store.credentials_table                -> the qualified table name (web/sessions.py joins it)
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from typing import Any

from domain.errors import NotFoundError

CREDENTIALS_TABLE = "pmo_credentials"
TOKENS_TABLE = "pmo_api_tokens"


class CredentialStore:
    """The password and API-token tables of one ledger database."""

    def __init__(self, side_store: Any) -> None:
        self.side = side_store
        self._ready = False
        self._lock = threading.Lock()

    # Tables ------------------------------------------------------------------------------

    def create_tables(self) -> None:
        """Create the password and API-token tables (idempotent; also done on first use)."""
        self.side.create([
            f"CREATE TABLE IF NOT EXISTS {self.side.table(CREDENTIALS_TABLE)} "
            "(username TEXT PRIMARY KEY, password_hash TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.side.table(TOKENS_TABLE)} "
            "(token_hash TEXT PRIMARY KEY, token_id TEXT NOT NULL UNIQUE, "
            "username TEXT NOT NULL, label TEXT NOT NULL, revoked INTEGER NOT NULL, "
            "expires_at TEXT)",
        ])
        self._add_token_expiry()
        self._ready = True

    def _add_token_expiry(self) -> None:
        """A tokens table made before tokens expired gets the column (a side table, not
        the log: altering it is allowed). Its earlier tokens keep no expiry until revoked."""
        table = self.side.table(TOKENS_TABLE)
        try:
            self.side.fetch(f"SELECT expires_at FROM {table} WHERE 1 = 0")
        except Exception:  # noqa: BLE001 - the column is missing (any driver's error)
            self.side.execute(f"ALTER TABLE {table} ADD COLUMN expires_at TEXT")

    def _table(self, name: str) -> str:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self.create_tables()
        return self.side.table(name)

    @property
    def credentials_table(self) -> str:
        """The passwords table's qualified name, created if missing (for joins elsewhere)."""
        return self._table(CREDENTIALS_TABLE)

    @property
    def tokens_table(self) -> str:
        return self._table(TOKENS_TABLE)

    # Passwords ---------------------------------------------------------------------------

    def set_password_hash(self, username: str, password_hash: str) -> None:
        self.side.execute(
            f"INSERT INTO {self.credentials_table} (username, password_hash) VALUES (?, ?) "
            "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash",
            (username, password_hash),
        )

    def password_hash(self, username: str) -> str | None:
        rows = self.side.fetch(
            f"SELECT password_hash FROM {self.credentials_table} WHERE username = ?", (username,))
        return str(rows[0][0]) if rows else None

    def has_password(self, username: str) -> bool:
        return self.password_hash(username) is not None

    # API tokens --------------------------------------------------------------------------

    def add_token(self, token: str, token_id: str, username: str, label: str,
                  expires_at: datetime) -> None:
        """Keep a new token's SHA-256 (never the token itself)."""
        self.side.execute(
            f"INSERT INTO {self.tokens_table} "
            "(token_hash, token_id, username, label, revoked, expires_at) VALUES (?, ?, ?, ?, 0, ?)",
            (token_hash(token), token_id, username, label, instant_text(expires_at)),
        )

    def _token_field(self, token_id: str, column: str) -> Any:
        rows = self.side.fetch(
            f"SELECT {column} FROM {self.tokens_table} WHERE token_id = ?", (token_id,))
        if not rows:
            raise NotFoundError(f"no API token {token_id}")
        return rows[0][0]

    def token_expiry(self, token_id: str) -> datetime | None:
        """When a token stops working (None: issued before tokens expired)."""
        expires = self._token_field(token_id, "expires_at")
        return datetime.fromisoformat(expires) if expires else None

    def token_owner(self, token_id: str) -> str:
        """The username a token id was issued to (revoked or not)."""
        return str(self._token_field(token_id, "username"))

    def mark_revoked(self, token_id: str) -> None:
        self.side.execute(f"UPDATE {self.tokens_table} SET revoked = 1 WHERE token_id = ?", (token_id,))

    def tokens(self, username: str | None, now: datetime) -> list[dict[str, Any]]:
        """Every token (or `username`'s): id, owner, label, expiry and status at `now`."""
        where, params = ("WHERE username = ?", (username,)) if username is not None else ("", ())
        rows = self.side.fetch(
            f"SELECT token_id, username, label, revoked, expires_at FROM {self.tokens_table} "
            f"{where} ORDER BY username, expires_at, token_id", params)
        at = instant_text(now)
        out = []
        for token_id, owner, label, revoked, expires in rows:
            status = ("revoked" if revoked else
                      "expired" if expires is not None and expires <= at else "active")
            out.append({"token_id": str(token_id), "username": str(owner), "label": str(label),
                        "expires_at": datetime.fromisoformat(expires) if expires else None,
                        "status": status})
        return out

    def token_user(self, token: str, now: datetime) -> str | None:
        """The username of a live token (not revoked, not expired at `now`), else None."""
        rows = self.side.fetch(
            f"SELECT username, revoked, expires_at FROM {self.tokens_table} WHERE token_hash = ?",
            (token_hash(token),))
        if not rows or rows[0][1]:
            return None
        if rows[0][2] is not None and rows[0][2] <= instant_text(now):
            return None  # one fixed-width UTC text format: compared as text
        return str(rows[0][0])


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def instant_text(moment: datetime) -> str:
    """A UTC instant as fixed-width ISO 8601 text (so text order is time order)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
