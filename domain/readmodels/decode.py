"""What the ledger projection reads of a stored event: its class, its payload as JSON,
and its recording instant -- without building the domain event.

The library's mapper builds every value of a payload (Decimal, date, datetime, UUID)
through the transcoder's Python hook, called for every JSON object; the projection's
rows need a handful of plain fields. So the payload is parsed by the C JSON parser alone
(floats refused, as the transcoder does), the tagged values it reads are converted where
it reads them (`payload_date`), and the instant is checked as the transcoder checks it (ISO
8601 in UTC with a `Z`). A payload that does not parse, is not an object, has no valid
instant or names an unknown class counts as unreadable, as with the mapper. A payload
from an older class version goes through the mapper itself (its upcasters). Project state
is still built by the library (snapshots and `mutate`), from the same stored events.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import StoredEvent, find_id_convertor
from eventsourcing.utils import resolve_topic

from domain.readmodels.store import instant_text
from ledger.canonical import (
    DATA_KEY,
    TYPE_KEY,
    CanonicalJSONTranscoder,
    DateAsISO,
    DecimalAsString,
    UUIDAsString,
)
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


def _whole(decoder: json.JSONDecoder) -> Any:
    """`decoder.decode`, made shorter for the usual text (one JSON value, no whitespace
    around it): its scanner alone. Anything else -- whitespace, extra data, bad JSON --
    goes through `decode` itself, which reads it or raises as always."""
    scan, decode = decoder.scan_once, decoder.decode

    def parse(text: str) -> Any:
        try:
            value, end = scan(text, 0)
        except StopIteration:
            return decode(text)
        return value if end == len(text) else decode(text)

    return parse


_parse = _whole(json.JSONDecoder(parse_float=_no_float))


class PayloadReader:
    """`reader(row)` -> the Payload at a chain row, or None when it is missing or unreadable."""

    def __init__(self, mapper: Any) -> None:
        self.mapper = mapper
        self._kinds: dict[str, tuple[type, int]] = {}  # topic -> class, class version
        self._events = EventReader(mapper)

    def __call__(self, row: ChainRow) -> Payload | None:
        if row.state is None or row.event_originator_id is None:
            return None
        try:
            known = self._kinds.get(row.topic)  # type: ignore[arg-type]
            if known is None:
                kind = resolve_topic(row.topic)  # type: ignore[arg-type]
                known = self._kinds[row.topic] = (kind, getattr(kind, "class_version", 1))  # type: ignore[index]
            kind, version = known
            d = _parse(row.state.decode("utf-8"))
            if type(d) is not dict or (len(d) == 2 and TYPE_KEY in d and DATA_KEY in d):
                return None  # the mapper could not make an event of it either
            if d.get("class_version", 1) != version:
                event = self.event(row)
                if event is None:
                    return None
                return Payload(kind, event.__dict__, instant_text(event.timestamp))
            return Payload(kind, d, _instant(d["timestamp"]))
        except Exception:  # noqa: BLE001 - any decoding failure means "unreadable"
            return None

    def event(self, row: ChainRow) -> Any:
        """The domain event itself, as the library's mapper makes it (None if unreadable)."""
        return self._events(row)


class EventReader:
    """`reader(row)` -> the domain event at a chain row, or None when it is missing or
    unreadable: what the library's mapper (`to_domain_event`) makes of it, made faster.

    The mapper decodes every JSON object through the transcoder's hook, which then calls
    the transcoding's `decode`; here one hook calls the decoding function itself (the same
    functions: `Decimal`, `date.fromisoformat`, `UUID`, and the transcoder's own for the
    others, instants included), and the event class, its version and its id convertor are
    looked up once per topic. Anything else -- a payload of an older class version (its
    upcasters), a mapper with a cipher or compressor, another transcoder -- goes through
    the mapper itself.
    """

    def __init__(self, mapper: Any) -> None:
        self.mapper = mapper
        self._ids: dict[str, UUID] = {}
        self._classes: dict[str, tuple[type, int, Any]] = {}
        transcoder = mapper.transcoder
        self._decode = None
        if (type(transcoder) is CanonicalJSONTranscoder and not getattr(mapper, "cipher", None)
                and not getattr(mapper, "compressor", None)):
            self._decode = _whole(json.JSONDecoder(object_hook=_tagged_values(transcoder.names),
                                                   parse_float=_no_float))

    def __call__(self, row: ChainRow) -> Any:
        if row.state is None or row.event_originator_id is None:
            return None
        oid = self._ids.get(row.event_originator_id)
        try:
            if oid is None:
                oid = self._ids[row.event_originator_id] = UUID(row.event_originator_id)
            if self._decode is None:
                return self._mapped(oid, row)
            known = self._classes.get(row.topic)  # type: ignore[arg-type]
            if known is None:
                cls = resolve_topic(row.topic)  # type: ignore[arg-type]
                known = self._classes[row.topic] = (  # type: ignore[index]
                    cls, getattr(cls, "class_version", 1), find_id_convertor(cls, UUID))
            cls, version, convert = known
            state = self._decode(row.state.decode("utf-8"))
            if type(state) is not dict:
                return None  # the mapper fails on it too (it sets keys on the state)
            if state.get("class_version", 1) != version:
                return self._mapped(oid, row)  # the class's upcasters
            state["originator_id"] = convert(oid)
            state["originator_version"] = row.event_originator_version
            state.pop("class_version", None)
            event = object.__new__(cls)
            object.__setattr__(event, "__dict__", state)
            return event
        except Exception:  # noqa: BLE001 - any decoding failure means "unreadable"
            return None

    def _mapped(self, oid: UUID, row: ChainRow) -> Any:
        stored = StoredEvent(oid, row.event_originator_version, row.topic, row.state)  # type: ignore[arg-type]
        return self.mapper.to_domain_event(stored)


# Transcodings whose `decode` is exactly one call of a builtin: called directly.
_BUILTIN_DECODES: dict[type, Any] = {
    DecimalAsString: Decimal, DateAsISO: date.fromisoformat, UUIDAsString: UUID}


def _tagged_values(names: dict[str, Any]) -> Any:
    """The JSON object hook decoding `{"_type_": name, "_data_": data}` as the
    transcoder's `_decode_obj` does (an unknown name fails the payload)."""
    decodes = {name: _BUILTIN_DECODES.get(type(t)) or t.decode for name, t in names.items()}

    def hook(d: dict[str, Any]) -> Any:
        if len(d) == 2 and TYPE_KEY in d and DATA_KEY in d:
            return decodes[d[TYPE_KEY]](d[DATA_KEY])
        return d

    return hook


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
