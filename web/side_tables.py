"""Side tables of the web layer (sessions, idempotency keys, verification runs): not ledger
facts, kept in the ledger's database so that every server worker sees them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import PersistenceError


def create_side_table(recorder: Any, statements: Sequence[str]) -> None:
    """Run `statements` (CREATE ... IF NOT EXISTS): idempotent, and safe when workers race
    (two PostgreSQL sessions creating one table at once: one loses, and tries again)."""
    for attempt in range(3):
        try:
            for sql in statements:
                recorder.execute(sql)
            return
        except PersistenceError:
            if attempt == 2:
                raise
