"""ledger/collecting.py: the ledger's save collects what the library's save collects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import DomainEventProtocol

from ledger import collecting
from ledger.application import init_ledger
from ledger.errors import KeyNotFoundError
from ledger.keys import Signer
from tools.bench.ledger import BenchBudgetLine, RawBenchApplication, expenditure


def _line(n: int = 2) -> BenchBudgetLine:
    line = BenchBudgetLine(project_code="IT-2026-014", line="software", currency="EUR")
    for i in range(n):
        line.submit_expenditure(**expenditure(i))
    return line


def _collected(event: ProcessingEvent, *objs: Any) -> tuple[list[Any], dict[Any, Any], dict[str, Any]]:
    event.collect_events(*objs, reason="x")
    return event.events, event.aggregates, event.saved_kwargs


def test_aggregates_events_and_none_are_collected_as_the_library_collects_them() -> None:
    line, other = _line(), _line(1)
    loose = _line(1).collect_events()[0]  # a domain event saved on its own
    library = _collected(ProcessingEvent(), line, None, loose, other)
    assert isinstance(loose, DomainEventProtocol)

    line, other = _line(), _line(1)  # the same kinds of objects again (collecting empties them)
    loose = _line(1).collect_events()[0]
    ours = _collected(collecting.CollectingEvent(), line, None, loose, other)

    for theirs, mine in zip(library, ours, strict=True):
        assert type(theirs) is type(mine)
    assert [type(e).__name__ for e in ours[0]] == [type(e).__name__ for e in library[0]] == [
        "Opened", "ExpenditureSubmitted", "ExpenditureSubmitted", "Opened",  # line, the loose event
        "Opened", "ExpenditureSubmitted"]
    assert list(ours[1]) == [line.id, other.id]
    assert ours[1][line.id] is line
    assert ours[2] == library[2] == {"reason": "x"}
    assert line.collect_events() == []  # taken from the aggregate, as the library takes them


def test_the_library_application_saving_through_it_records_and_reads_back(tmp_path: Path) -> None:
    app = RawBenchApplication({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                       "SQLITE_DBNAME": str(tmp_path / "plain.db"), "CREATE_TABLE": "yes"})
    line = _line(3)
    recordings = collecting.save(app, (line,), {})
    assert [r.notification.id for r in recordings] == [1, 2, 3, 4]
    assert app.repository.get(line.id).count == 3
    app.close()


def test_the_ledger_save_still_refuses_a_key_the_log_does_not_know(tmp_path: Path) -> None:
    app, root = init_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", "pass-phrase-1")
    size = app.size()
    with pytest.raises(KeyNotFoundError, match="not registered"):
        app.save(_line(), signer=Signer.generate("stranger"))
    assert app.size() == size  # nothing written
    bench = app.enrol_signer("bench", "pass-phrase-1", by=root, actor_id="ledger-root",
                             actor_name="Ledger root key")  # the events' actor (tools.bench.ledger)
    app.save(_line(), signer=bench)
    assert app.size() == size + 4
    app.close()
