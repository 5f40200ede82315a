"""The read-model tables (all prefixed `rm_`). Everything in them is derived from the log
and can be dropped and rebuilt from it at any time.

Positions are ledger chain positions (`ledger_chain.position`). Money is decimal text,
dates ISO text, instants fixed-width ISO text in UTC (see store.py).
"""

from __future__ import annotations

# name -> column definitions; the table is rm_<name>.
_TABLES: dict[str, str] = {
    # Small facts about the projections (the rules engine in use...).
    "meta": "name TEXT PRIMARY KEY, value TEXT NOT NULL",
    # Each projection's position: the last notification id its rows account for. Written
    # in the same transaction as the rows, so the two never disagree.
    "tracking": "name TEXT PRIMARY KEY, notification_id BIGINT NOT NULL",
    # One row per log position: who signed what, when, why, and the key's status then.
    "events": (
        "position BIGINT PRIMARY KEY, notification_id BIGINT NOT NULL, "
        "originator_id TEXT NOT NULL, version BIGINT NOT NULL, event TEXT NOT NULL, "
        "project TEXT, actor_id TEXT, actor_name TEXT, meaning TEXT, reason TEXT, "
        "recorded_at TEXT NOT NULL, key_id TEXT NOT NULL, key_status TEXT NOT NULL"
    ),
    # Every act signed as an approval or a review (approvals, rejections, sign-offs).
    "approvals": (
        "position BIGINT PRIMARY KEY, project TEXT NOT NULL, kind TEXT NOT NULL, "
        "item TEXT NOT NULL, decision TEXT NOT NULL, role TEXT, actor_id TEXT NOT NULL, "
        "actor_name TEXT NOT NULL, meaning TEXT NOT NULL, reason TEXT, conditions TEXT, "
        "recorded_at TEXT NOT NULL, key_status TEXT NOT NULL"
    ),
    "projects": (
        "project TEXT PRIMARY KEY, project_id TEXT NOT NULL, title TEXT NOT NULL, "
        "currency TEXT NOT NULL, status TEXT NOT NULL, next_gate TEXT, next_gate_status TEXT, "
        "sponsor TEXT, project_manager TEXT, start_date TEXT, target_finish TEXT, "
        "original TEXT NOT NULL, budget TEXT NOT NULL, committed TEXT NOT NULL, "
        "spent TEXT NOT NULL, pending TEXT NOT NULL, available TEXT NOT NULL, "
        "bac TEXT NOT NULL, last_report TEXT, last_report_end TEXT, last_report_overall TEXT, "
        "last_report_at TEXT, version BIGINT NOT NULL, position BIGINT NOT NULL"
    ),
    "lines": (
        "project TEXT NOT NULL, line TEXT NOT NULL, name TEXT NOT NULL, category TEXT NOT NULL, "
        "original TEXT NOT NULL, transferred TEXT NOT NULL, cr_adjusted TEXT NOT NULL, "
        "budget TEXT NOT NULL, committed TEXT NOT NULL, spent TEXT NOT NULL, "
        "pending TEXT NOT NULL, available TEXT NOT NULL, PRIMARY KEY (project, line)"
    ),
    "milestones": (
        "project TEXT NOT NULL, milestone TEXT NOT NULL, name TEXT NOT NULL, "
        "planned_start TEXT NOT NULL, planned_finish TEXT NOT NULL, "
        "budgeted_value TEXT NOT NULL, percent INTEGER NOT NULL, percent_as_of TEXT, "
        "accepted INTEGER NOT NULL, PRIMARY KEY (project, milestone)"
    ),
    # Every progress report, with its business date (as_of) and recording instant.
    "progress": (
        "position BIGINT PRIMARY KEY, project TEXT NOT NULL, milestone TEXT NOT NULL, "
        "as_of TEXT NOT NULL, percent INTEGER NOT NULL, recorded_at TEXT NOT NULL"
    ),
    # Actual cost movements: + when an expenditure's approval completes, - when it is
    # reversed; both at the invoice (business) date, each with its recording instant.
    "spend": (
        "position BIGINT PRIMARY KEY, project TEXT NOT NULL, expenditure_id TEXT NOT NULL, "
        "line TEXT NOT NULL, invoice_date TEXT NOT NULL, amount TEXT NOT NULL, "
        "recorded_at TEXT NOT NULL"
    ),
    # What waits for whom: one row per pending item and role it awaits.
    "queue": (
        "project TEXT NOT NULL, kind TEXT NOT NULL, item TEXT NOT NULL, role TEXT NOT NULL, "
        "summary TEXT NOT NULL, amount TEXT, submitted_by TEXT, submitted_at TEXT, "
        "approvals INTEGER NOT NULL, position BIGINT NOT NULL, "
        "PRIMARY KEY (project, kind, item, role)"
    ),
    # Every version of the approval policy, with the instant it came into force.
    "policy": (
        "position BIGINT PRIMARY KEY, version BIGINT NOT NULL, effective_from TEXT NOT NULL, "
        "rules TEXT NOT NULL"
    ),
    "findings": (
        "finding_key TEXT PRIMARY KEY, rule_id TEXT NOT NULL, severity TEXT NOT NULL, "
        "project TEXT, message TEXT NOT NULL, evidence TEXT NOT NULL, "
        "first_position BIGINT"
    ),
}

# Secondary indexes cost as much as the row they index on every insert, so only tables
# searched by something other than their key get one: a project's events (its audit
# trail and its log page) by project and version.
_INDEXES = (
    ("events_project", "events", "project, version"),
    ("approvals_project", "approvals", "project, position"),
    ("queue_role", "queue", "role, submitted_at"),
)
# Tables of earlier releases, dropped with the others (the audit trail is now worked out
# on demand: audit.py).
_RETIRED = ("audit",)

TABLES: tuple[str, ...] = tuple(_TABLES)


def create_statements(sqlite: bool, indexes: bool = True) -> list[str]:
    """CREATE statements, with `{name}` table placeholders for ReadStore.q."""
    out = [f"CREATE TABLE IF NOT EXISTS {{{name}}} ({_columns(cols, sqlite)})"
           for name, cols in _TABLES.items()]
    return out + index_statements() if indexes else out


def _columns(cols: str, sqlite: bool) -> str:
    # On SQLite an INTEGER PRIMARY KEY (64-bit there) is the row id itself: one B-tree
    # per table instead of the rows' plus a unique index beside them.
    return cols.replace("position BIGINT PRIMARY KEY", "position INTEGER PRIMARY KEY") if sqlite else cols


def index_statements() -> list[str]:
    # PostgreSQL indexes live in the table's schema and take an unqualified name.
    return [f"CREATE INDEX IF NOT EXISTS rm_{index} ON {{{table}}} ({cols})"
            for index, table, cols in _INDEXES]


def drop_statements(prefix: str) -> list[str]:
    """DROP statements (`prefix`: the schema prefix, for the retired tables' names)."""
    return ([f"DROP TABLE IF EXISTS {{{name}}}" for name in _TABLES]
            + [f"DROP TABLE IF EXISTS {prefix}rm_{name}" for name in _RETIRED])
