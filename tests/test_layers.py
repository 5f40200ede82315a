"""The layer rules the import contract cannot see (pyproject.toml's import-linter contracts
hold the rest): outside `ledger/`, nothing reaches the event recorder, the library's
storage internals or the log's SQL. Readers use the ledger's port (ledger/reading.py,
`append`'s receipts) and side tables the side-table adapter (ledger/sidestore.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE_LEDGER = ("domain", "web", "tools")
# Attributes that are the ledger's storage internals or the library's private write path.
FORBIDDEN_ATTRIBUTES = {
    "recorder", "datastore", "_record", "_insert_tracking", "_insert_events",
    "select_events", "select_notifications", "tracking_recorder", "insert_events",
}
# The log's own tables, by the names its SQL uses ("{events}" alone is also the read
# models' own table in their store's SQL, and reaching the log's needs the recorder).
LOG_TABLE_MARKERS = ("{chain}", "{nid}", "{checkpoints}", "{keys}", "stored_events", "ledger_chain")
# Where an attribute above is the point: the read models' store is the adapter of their
# tables (it runs their transactions on the side store's datastore), and the benchmark's
# raw baselines are the library's own path, measured beside the ledger's in the same run.
ALLOWED = {
    "domain/readmodels/store.py": {"datastore"},
    "tools/bench/ledger.py": {"recorder", "select_events", "select_notifications", "insert_events"},
    "tools/bench/readmodels.py": {"recorder", "select_notifications"},
}


def _modules() -> list[Path]:
    return sorted(p for top in OUTSIDE_LEDGER for p in (ROOT / top).rglob("*.py"))


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    allowed = ALLOWED.get(str(path.relative_to(ROOT)), set())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES - allowed:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            hits = [m for m in LOG_TABLE_MARKERS if m in node.value]
            if hits and any(w in node.value.upper() for w in ("SELECT ", "INSERT ", "UPDATE ", "DELETE ")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: SQL on the log ({', '.join(hits)})")
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outside_the_ledger_touches_the_recorder_or_the_logs_sql(path: Path) -> None:
    assert _violations(path) == []


def test_the_check_finds_what_it_forbids() -> None:
    """The rule above is not vacuous: each kind of breach is caught, where it stands."""
    probe = ROOT / "web" / "_layers_probe.py"
    try:
        probe.write_text('def f(app):\n    rows = app.recorder.fetch("SELECT * FROM {chain}")\n'
                         '    return rows, app._record\n', encoding="utf-8")
        found = sorted(_violations(probe))
    finally:
        probe.unlink()
    assert found == ["web/_layers_probe.py:2: .recorder", "web/_layers_probe.py:2: SQL on the log ({chain})",
                     "web/_layers_probe.py:3: ._record"]
