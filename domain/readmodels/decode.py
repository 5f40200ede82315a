"""What the read models read of a stored event.

The ledger projection's rows need a handful of plain fields of each payload, not the
domain event: `PayloadReader` parses the payload as the transcoder's own parser does (the
standard library's, floats refused) and leaves tagged values tagged; the fields it reads
are converted where it reads them (`payload_date`), and the instant is checked as the
transcoder checks it (ISO 8601 in UTC with a `Z`). A payload that does not parse, is not
an object, has no valid instant or names an unknown class counts as unreadable, as with
the mapper. A payload from an older class version goes through the mapper (its
upcasters). Whole domain events (`EventReader`) are always the library's mapper's.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

from domain.readmodels.store import instant_text
from ledger.canonical import DATA_KEY, TYPE_KEY
from ledger.rows import ChainRow

# An instant exactly as the transcoder (and store.instant_text) writes it.
_CANONICAL_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


class Payload(NamedTuple):
    """One stored event as the projection reads it."""

    kind: type  # the domain event class
    d: dict[str, Any]  # its fields; registered types still tagged, or decoded (upcast)
    at: str  # its recording instant, as store.instant_text writes it


def _no_float(text: str) -> Any:
    raise ValueError(f"float {text} in a stored payload")


_parse = json.JSONDecoder(parse_float=_no_float).decode


def _parse_payload(data: bytes) -> Any:
    """A stored payload parsed as the transcoder parses it: the standard library's JSON
    parser, floats refused."""
    return _parse(data.decode("utf-8"))


class PayloadReader:
    """`reader(row)` -> the Payload at a chain row, or None when it is missing or unreadable."""

    def __init__(self, mapper: Any) -> None:
        self.mapper = mapper
        self._kinds: dict[str, tuple[type, int]] = {}  # topic -> class, class version
        self.events = EventReader(mapper)  # whole events, where a payload is not enough

    def __call__(self, row: ChainRow) -> Payload | None:
        if row.state is None or row.event_originator_id is None:
            return None
        try:
            known = self._kinds.get(row.topic)  # type: ignore[arg-type]
            if known is None:
                kind = resolve_topic(row.topic)  # type: ignore[arg-type]
                known = self._kinds[row.topic] = (kind, getattr(kind, "class_version", 1))  # type: ignore[index]
            kind, version = known
            d = _parse_payload(row.state)
            if type(d) is not dict or (len(d) == 2 and TYPE_KEY in d and DATA_KEY in d):
                return None  # the mapper could not make an event of it either
            if d.get("class_version", 1) != version:
                event = self.events(row)
                if event is None:
                    return None
                return Payload(kind, event.__dict__, instant_text(event.timestamp))
            return Payload(kind, d, _instant(d["timestamp"]))
        except Exception:  # noqa: BLE001 - any decoding failure means "unreadable"
            return None


class EventReader:
    """`reader(row)` -> the domain event at a chain row, as the library's mapper makes it
    (`to_domain_event`), or None when it is missing or unreadable."""

    def __init__(self, mapper: Any) -> None:
        self.mapper = mapper

    def __call__(self, row: ChainRow) -> Any:
        if row.state is None or row.event_originator_id is None:
            return None
        try:
            return self.mapper.to_domain_event(StoredEvent(
                UUID(row.event_originator_id), row.event_originator_version,
                row.topic, row.state))  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - any decoding failure means "unreadable"
            return None


def _instant(value: Any) -> str:
    """A tagged instant's text, checked as DatetimeAsUTC.decode checks it."""
    if type(value) is not dict or len(value) != 2 or value.get(TYPE_KEY) != "datetime":
        raise ValueError("no recording instant")
    text = value[DATA_KEY]
    if type(text) is str and _CANONICAL_INSTANT.fullmatch(text):
        datetime.fromisoformat(text)  # a real date and time (ends in Z: UTC)
        return text
    parsed = datetime.fromisoformat(text)
    if not text.endswith("Z") or parsed.utcoffset():
        raise ValueError(f"stored instant {text!r} is not UTC with a Z")
    return instant_text(parsed)


def payload_date(value: Any) -> str:
    """A date field (tagged, or decoded by the mapper) as ISO text."""
    if type(value) is dict:
        if value.get(TYPE_KEY) != "date":
            raise ValueError(f"not a date: {value!r}")
        value = date.fromisoformat(value[DATA_KEY])
    return value.isoformat()
