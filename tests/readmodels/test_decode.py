"""The read models' own event decoding (decode.EventReader) gives what the library's
mapper gives, event for event, and None exactly where the mapper fails."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.readmodels.decode import EventReader
from tests.domain.helpers import World
from tests.readmodels.test_tracking import history
from tests.support import set_state


def mapped(app: Any, row: Any) -> Any:
    try:
        return app.mapper.to_domain_event(StoredEvent(
            UUID(row.event_originator_id), row.event_originator_version, row.topic, row.state))
    except Exception:  # noqa: BLE001 - unreadable, as the read models count it
        return None


def test_events_are_the_mappers_and_unreadable_where_it_fails(world: World) -> None:
    history(world)
    app = world.app
    size = app.size()
    broken = {size - 1: b"not json", size - 2: b'{"a": 1.5}', size - 3: b"[1, 2]",
              size - 4: b'{"_type_": "decimal", "_data_": "1"}',
              size - 5: b'{"timestamp": {"_type_": "nope", "_data_": "x"}}'}
    for position, state in broken.items():
        set_state(app, position, state)
    reader = EventReader(app.mapper)
    rows = app.read_chain(1, size)
    for row in rows:
        ours, theirs = reader(row), mapped(app, row)
        if row.position in broken:
            assert ours is None and theirs is None, row.position
        elif theirs is None:
            assert ours is None, row.position
        else:
            assert type(ours) is type(theirs), row.position
            assert list(ours.__dict__.items()) == list(theirs.__dict__.items()), row.position
    assert sum(reader(row) is not None for row in rows) == size - len(broken)


def test_whitespace_around_a_payload_reads_as_the_mapper_reads_it(world: World) -> None:
    history(world)
    app = world.app
    position = app.size()
    state = app.read_chain(position, position)[0].state
    set_state(app, position, b" \n" + state + b"\n ")
    row = app.read_chain(position, position)[0]
    ours, theirs = EventReader(app.mapper)(row), mapped(app, row)
    assert theirs is not None and ours.__dict__ == theirs.__dict__
