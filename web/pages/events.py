"""The log as pages show it: events from the read models' event index (who signed what,
when, why), each with its signature checked again on the spot against the key the log
says was valid at that position, and the chain link to the position before.

The read models have no public query for the event index yet, so `log_rows` reads the
`events` table through `ReadModels.store` (read-only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.readmodels.store import parse_instant
from ledger.hashing import GENESIS_HASH
from ledger.verify import DatabaseSource, build_timeline, check_rows


@dataclass(frozen=True)
class LogRow:
    position: int
    event: str
    project: str | None
    actor_id: str | None
    actor_name: str | None
    meaning: str | None
    reason: str | None
    recorded_at: datetime | None
    key_id: str
    key_status: str

    @property
    def name(self) -> str:
        return self.event.rsplit(".", 1)[-1]


_COLUMNS = "position, event, project, actor_id, actor_name, meaning, reason, recorded_at, key_id, key_status"


def log_rows(models: Any, *, project: str | None = None, actor: str | None = None,
             event: str | None = None, since: str | None = None, until: str | None = None,
             before: int | None = None, limit: int = 50) -> list[LogRow]:
    """Newest first, filtered; `before` pages backwards by position."""
    models.catch_up()
    filters = [
        ("project = ?", project), ("actor_id = ?", actor),
        ("event LIKE ?", f"%{event}%" if event else None),
        ("recorded_at >= ?", since), ("recorded_at <= ?", until), ("position < ?", before),
    ]
    active = [(condition, value) for condition, value in filters if value]
    where, params = [c for c, _ in active], [v for _, v in active]
    sql = f"SELECT {_COLUMNS} FROM {{events}}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY position DESC LIMIT ?"
    return [_row(r) for r in models.store.fetch(sql, [*params, limit])]


def log_row(models: Any, position: int) -> LogRow | None:
    models.catch_up()
    rows = models.store.fetch(f"SELECT {_COLUMNS} FROM {{events}} WHERE position = ?", (position,))
    return _row(rows[0]) if rows else None


def chain_log_row(pmo: Any, position: int) -> LogRow | None:
    """A position the read models do not hold (they never take a position that failed its
    check), read straight from the log, so that a fault's position can always be opened."""
    rows = pmo.read_chain(position, position)
    if not rows:
        return None
    r = rows[0]
    data = payload(pmo, position)
    data = data if isinstance(data, dict) else {}
    stamp = data.get("timestamp")
    try:
        when = datetime.fromisoformat(stamp["_data_"]) if isinstance(stamp, dict) else None
    except (KeyError, TypeError, ValueError):
        when = None
    text = [v if isinstance(v, str) else None for v in
            (data.get("actor_id"), data.get("actor_name"), data.get("meaning"), data.get("reason"))]
    return LogRow(position, r.topic if isinstance(r.topic, str) else "(no stored event)", None,
                  *text, when, str(r.key_id), "not checked into the read models")


def event_names(models: Any) -> list[str]:
    return sorted({r[0].rsplit(".", 1)[-1] for r in models.store.fetch("SELECT DISTINCT event FROM {events}")})


def _row(r: tuple) -> LogRow:
    return LogRow(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], parse_instant(r[7]), r[8], r[9])


def payload(pmo: Any, position: int) -> Any:
    """The stored payload of the event at `position` (canonical JSON, decoded), or a note
    saying why it cannot be shown (an edited row is shown as such, never a 500)."""
    rows = pmo.read_chain(position, position)
    if not rows or rows[0].state is None:
        return None
    try:
        return json.loads(rows[0].state)
    except (TypeError, ValueError) as e:
        return {"unreadable": f"the stored payload is not JSON: {e}"}


@dataclass(frozen=True)
class SignatureCheck:
    status: str  # "valid", or the kinds of fault found ("bad-signature, chain-break")
    key_owner: str | None  # whose key signed, as the log's key history says (None: unknown key)

    @property
    def actor_mismatch(self) -> bool:
        return "actor-key-mismatch" in self.status


def signature_checks(pmo: Any, positions: list[int]) -> dict[int, SignatureCheck]:
    """Each position checked again as `verify` checks it (signature by a key valid then,
    the key its actor's, canonical bytes, chain link to the position before)."""
    if not positions:
        return {}
    timeline, _ = build_timeline(DatabaseSource(pmo).key_rows())
    # Each position and the one before it (its chain link), read at once.
    rows = {r.position: r for r in pmo.read_positions({q for p in positions for q in (p - 1, p) if q >= 1})}
    out = {}
    for p in positions:
        if p not in rows:
            out[p] = SignatureCheck("missing-record", None)
            continue
        if p == 1:
            previous: bytes | None = GENESIS_HASH
        else:
            previous = rows[p - 1].chain_hash if p - 1 in rows else None
        result = check_rows([rows[p]], p, p, previous, timeline.keys)
        key = timeline.keys.get(rows[p].key_id) if isinstance(rows[p].key_id, str) else None
        status = ", ".join(sorted({f.kind for f in result.faults})) or "valid"
        out[p] = SignatureCheck(status, key.owner if key else None)
    return out


def signature_status(pmo: Any, positions: list[int]) -> dict[int, str]:
    """For each position: "valid" or the kinds of fault found (see `signature_checks`)."""
    return {p: c.status for p, c in signature_checks(pmo, positions).items()}
