"""Code run in separate processes by the concurrency tests (importable by spawn)."""

from __future__ import annotations

from typing import Any

from domain.services import PMOApplication
from ledger.application import open_ledger
from tests.readmodels.support import FakeEvaluator, models_for


def catch_up(url: str, barrier: Any, results: Any, batch: int) -> None:
    """Open the ledger, wait for the other process, then catch up both projections;
    report how many positions this process wrote."""
    app = open_ledger(url, app_class=PMOApplication)
    try:
        models = models_for(app, evaluator=FakeEvaluator, batch=batch)
        models.store.ensure_tables()
        barrier.wait(timeout=30)
        results.put((models.catch_up(), models.compliance.catch_up()))
    except BaseException as e:  # the parent reports it
        results.put(repr(e))
        raise
    finally:
        app.close()
