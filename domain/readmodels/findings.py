"""The compliance findings read model: the rules engine, fed from the log.

A projection of its own (tracking name `pmo_compliance`), because judging every event
against the rules costs more than all the other read models together and most reads do
not need it. The evaluator (`domain.compliance.ComplianceEvaluator`, or anything with
`apply(position, recorded_at, event)` and `findings()`) is fed every event exactly once,
in order. It cannot be reloaded from a snapshot, so a process starting with the table
already at position N first replays 1..N into a fresh evaluator without writing.

Time-based rules (pending too long, no recent report...) are judged as of a UTC day; the
evaluator is started afresh when the day changes, and `stale` tells a reader the table
was judged on an earlier day.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from domain import clock as domain_clock
from domain.compliance import ComplianceEvaluator
from domain.readmodels.decode import EventReader
from domain.readmodels.projection import Item
from domain.readmodels.store import ReadStore, Writer
from domain.readmodels.views import FindingRow

EvaluatorFactory = Callable[[datetime], Any]
DAY_KEY = "compliance_day"


def default_evaluator(now: datetime) -> Any:
    # Imported with this module, not when first judged: a rebuild judges in a forked
    # child, which would otherwise import (without bytecode files, compile) it each time.
    return ComplianceEvaluator(now=now)


class ComplianceProjection:
    name = "pmo_compliance"

    def __init__(self, store: ReadStore, factory: EvaluatorFactory = default_evaluator,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.decode = EventReader(store.app.mapper)  # what the runner reads positions with
        self.factory = factory
        self.clock = clock or domain_clock.now
        self.at = 0
        self.evaluator: Any = None
        self.fed = 0  # the last position the evaluator has seen
        self.day: date | None = None
        self.written: dict[str, FindingRow] | None = None

    def reset(self, *, hard: bool = False) -> None:
        """Forget what the table holds. The evaluator survives a lost race (it is re-fed
        or started again by position), but not a failure inside it."""
        self.at = 0
        self.written = None
        if hard:
            self.evaluator, self.fed = None, 0

    def process(self, start: int, items: list[Item],
                replay: Callable[[int, int], Iterable[Item]]) -> list[FindingRow]:
        """The findings once `items` (the positions after `start`) are judged too."""
        self.warm(start, replay)
        self._feed_all(items)
        return [_finding(f) for f in self.evaluator.findings()]

    def warm(self, position: int, replay: Callable[[int, int], Iterable[Item]]) -> None:
        """Make the evaluator stand at `position`: fresh if it ran ahead or the day changed,
        then fed whatever lies between."""
        now = self.clock()
        if self.evaluator is None or self.fed > position or self.day != now.date():
            self.evaluator, self.fed, self.day = self.factory(now), 0, now.date()
        if self.fed < position:
            self._feed_all(replay(self.fed + 1, position))

    def _feed_all(self, items: Iterable[Item]) -> None:
        """Each item to the evaluator, in order (`fed`: the last one it has seen)."""
        apply = self.evaluator.apply
        for row, event in items:
            if event is not None:
                apply(row.position, event.timestamp, event)
            self.fed = row.position

    def stale(self, stored_day: str | None) -> bool:
        return stored_day != self.clock().date().isoformat()

    def write(self, w: Writer, findings: list[FindingRow]) -> None:
        """Only the difference with what the table holds: findings rarely change."""
        if self.written is None:
            self.written = {r[0]: _from_row(r) for r in w.fetch(
                "SELECT finding_key, rule_id, severity, project, message, evidence FROM {findings}")}
        now = {finding_key(f): f for f in findings}
        gone = [(k,) for k in self.written.keys() - now.keys()]
        new = [_row(k, f) for k, f in now.items() if k not in self.written]
        w.run_many("DELETE FROM {findings} WHERE finding_key = ?", gone)
        w.insert("findings", new)
        w.run("DELETE FROM {meta} WHERE name = ?", (DAY_KEY,))
        w.run("INSERT INTO {meta} VALUES (?, ?)", (DAY_KEY, self.day.isoformat() if self.day else ""))
        self.written = now


def _finding(f: Any) -> FindingRow:
    return FindingRow(str(f.rule_id), str(f.severity), f.project, str(f.message),
                      tuple(sorted(int(p) for p in f.evidence)))


def finding_key(f: FindingRow) -> str:
    text = "\x1f".join((f.rule_id, f.project or "", ",".join(map(str, f.evidence)), f.message))
    return hashlib.sha256(text.encode()).hexdigest()


def _row(key: str, f: FindingRow) -> tuple:
    return (key, f.rule_id, f.severity, f.project, f.message, ",".join(map(str, f.evidence)),
            f.evidence[0] if f.evidence else None)


def _from_row(r: tuple) -> FindingRow:
    evidence = tuple(int(p) for p in r[5].split(",")) if r[5] else ()
    return FindingRow(r[1], r[2], r[3], r[4], evidence)
