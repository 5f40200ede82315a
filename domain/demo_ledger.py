"""Recognising the demo portfolio's ledger (seeded by `pmo-ledger demo`, tools/demo/).

`pmo-ledger serve` unlocks a demo ledger's signing keys with the printed demo passphrase
when none is configured; it must know the demo without importing the tooling that seeds
it, so the marker lives here.
"""

from __future__ import annotations

from typing import Any

DEMO_MARKER = "IT-2026-009"  # the last project the demo charters, in its final week


def demo_present(app: Any) -> bool:
    """True when this ledger already holds the demo portfolio."""
    try:
        app.project(DEMO_MARKER)
    except Exception:  # noqa: BLE001 - no directory, no project: not the demo
        return False
    return True
