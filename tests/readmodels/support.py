"""Helpers for the read-model tests: a fixed clock, a fake rules engine, table dumps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.readmodels import ReadModels
from domain.readmodels.schema import TABLES

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


@dataclass(frozen=True)
class FakeFinding:
    rule_id: str
    severity: str
    project: str | None
    message: str
    evidence: tuple[int, ...]


class FakeEvaluator:
    """Stands in for domain.compliance: one finding per approval, and it records what it
    was fed, so a test can see every position arrives once and in order."""

    instances: list[FakeEvaluator] = []

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.fed: list[int] = []
        self.approvals: list[tuple[int, str]] = []
        FakeEvaluator.instances.append(self)

    def apply(self, position: int, recorded_at: datetime, event: Any) -> None:
        assert not self.fed or position == self.fed[-1] + 1, (self.fed[-1:], position)
        assert recorded_at.tzinfo is not None
        self.fed.append(position)
        if type(event).__name__.endswith("Approved"):
            self.approvals.append((position, event.actor_name))

    def findings(self) -> list[FakeFinding]:
        return [FakeFinding("FAKE-001", "low", None, f"approved by {name}", (p,))
                for p, name in self.approvals]


def models_for(app: Any, **kw: Any) -> ReadModels:
    return ReadModels(app, clock=clock, **kw)


def dump(models: ReadModels) -> dict[str, list[tuple]]:
    """Every read-model row, sorted, and the two tracking positions."""
    out = {name: sorted(models.store.fetch(f"SELECT * FROM {{{name}}}"), key=repr)
           for name in TABLES}
    out["tracking"] = [(models.store.tracked(models.ledger.name),
                        models.store.tracked(models.compliance.name))]
    return out


def counts(models: ReadModels) -> dict[str, int]:
    return {name: int(models.store.fetch(f"SELECT COUNT(*) FROM {{{name}}}")[0][0]) for name in TABLES}
