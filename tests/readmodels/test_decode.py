"""The read models' own event decoding (decode.EventReader) gives what the library's
mapper gives, event for event, and None exactly where the mapper fails; their payload
parser reads what the transcoder's parser reads, and refuses what it refuses."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.readmodels.decode import EventReader, _no_float, _parse_payload
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


# The payload parser: the standard library's, floats refused ----------------------------

_TEXT = st.text(alphabet=st.characters(exclude_categories=()))  # lone surrogates too
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | _TEXT
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(_TEXT, inner, max_size=4), max_leaves=12)


def _outcome(parse: Any, data: bytes) -> tuple[str, Any]:
    try:
        return "read", parse(data)
    except Exception:  # noqa: BLE001 - refused: by whichever error, the same verdict
        return "refused", None


def _standard(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"), parse_float=_no_float)


@settings(max_examples=400, deadline=None)
@given(value=_JSON, ascii_only=st.booleans(), spaced=st.booleans())
def test_a_payload_parses_as_the_standard_library_parses_it(value: Any, ascii_only: bool,
                                                            spaced: bool) -> None:
    """Floats, NaN, big integers, lone surrogates, whitespace: the same value or the same
    refusal as the transcoder's own parser (json with floats refused)."""
    text = json.dumps(value, ensure_ascii=ascii_only, separators=None if spaced else (",", ":"))
    data = text.encode("utf-8", "surrogatepass")  # a lone surrogate: bytes that are not UTF-8
    ours, theirs = _outcome(_parse_payload, data), _outcome(_standard, data)
    assert ours[0] == theirs[0]
    assert repr(ours[1]) == repr(theirs[1])  # repr: NaN != NaN, but reads the same


@pytest.mark.parametrize("data", [
    b'{"a":NaN}', b'{"a":"\\ud800"}', b'{"a":1e5}', b'{"a":1.0}', b'{"a":1} x', b'\xff',
    b'{"a":123456789012345678901234567890}', b'{"a":1,"a":2}', b' {"a": [1, {}]} '])
def test_edge_cases_get_the_standard_librarys_verdict(data: bytes) -> None:
    assert repr(_outcome(_parse_payload, data)) == repr(_outcome(_standard, data))
