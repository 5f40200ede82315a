"""What the ledger projection reads of a stored event: its class, its payload as JSON,
and its recording instant -- without building the domain event.

The library's mapper builds every value of a payload (Decimal, date, datetime, UUID)
through the transcoder's Python hook, called for every JSON object; the projection's
rows need a handful of plain fields. So the payload is parsed by a C JSON parser alone
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

import msgspec
from eventsourcing.application import AggregateNotFoundError
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
_msgspec = msgspec.json.Decoder(float_hook=_no_float)  # floats refused, as by `_parse`


def _parse_payload(data: bytes) -> Any:
    """A stored payload parsed exactly as the transcoder's parser (the standard library's)
    parses it, by msgspec's where it can: it reads a rebuild's 20,000 payloads in half
    the time. Whatever msgspec refuses -- a float (refused by both), but also NaN or a
    lone surrogate escape, which the standard library reads -- is parsed again by the
    standard library, whose verdict stands (tests/readmodels/test_decode.py)."""
    try:
        return _msgspec.decode(data)
    except Exception:  # noqa: BLE001 - the standard library's parser has the last word
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
                event = self.event(row)
                if event is None:
                    return None
                return Payload(kind, event.__dict__, instant_text(event.timestamp))
            return Payload(kind, d, _instant(d["timestamp"]))
        except Exception:  # noqa: BLE001 - any decoding failure means "unreadable"
            return None

    def event(self, row: ChainRow) -> Any:
        """The domain event itself, as the library's mapper makes it (None if unreadable)."""
        return self.events(row)


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
            return self._event(oid, row.event_originator_version, row.topic, row.state)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - any decoding failure means "unreadable"
            return None

    def stored(self, stored: StoredEvent) -> Any:
        """The domain event of one of the library's stored events (or snapshots); a
        failure to decode is raised, as the mapper raises it."""
        oid = stored.originator_id
        return self._event(oid if type(oid) is UUID else UUID(str(oid)),
                           stored.originator_version, stored.topic, stored.state)

    def _event(self, oid: UUID, version: int, topic: str, data: bytes) -> Any:
        if self._decode is None:
            return self._mapped(oid, version, topic, data)
        known = self._classes.get(topic)
        if known is None:
            cls = resolve_topic(topic)
            known = self._classes[topic] = (
                cls, getattr(cls, "class_version", 1), find_id_convertor(cls, UUID))
        cls, class_version, convert = known
        state = self._decode(data.decode("utf-8"))
        if type(state) is not dict:
            raise ValueError("not a JSON object")  # the mapper fails on it too (it sets keys)
        if state.get("class_version", 1) != class_version:
            return self._mapped(oid, version, topic, data)  # the class's upcasters
        state["originator_id"] = convert(oid)
        state["originator_version"] = version
        state.pop("class_version", None)
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def _mapped(self, oid: UUID, version: int, topic: str, data: bytes) -> Any:
        return self.mapper.to_domain_event(StoredEvent(oid, version, topic, data))

    def aggregate(self, repository: Any, oid: UUID, version: int) -> Any:
        """`repository.get(oid, version=version)` (from the nearest snapshot, then the
        events after it), each stored event decoded here rather than by the mapper; a
        repository whose stores use another mapper goes through `repository.get` itself.
        Events are folded by `mutate` alone (the library's per-event Protocol check is
        its largest cost after decoding); one without `mutate` fails, as an AttributeError."""
        snapshots, events = repository.snapshot_store, repository.event_store
        if events.mapper is not self.mapper or (
                snapshots is not None and snapshots.mapper is not self.mapper):
            return repository.get(oid, version=version, projector_func=_fold)
        stored: list[StoredEvent] = []
        gt = None
        if snapshots is not None:
            stored = list(snapshots.recorder.select_events(oid, desc=True, limit=1, lte=version))
            gt = stored[0].originator_version if stored else None
        stored.extend(events.recorder.select_events(oid, gt=gt, lte=version))
        aggregate = None
        for s in stored:
            aggregate = self.stored(s).mutate(aggregate)
        if aggregate is None:
            raise AggregateNotFoundError(f"Aggregate {oid!r} version {version!r} not found.")
        return aggregate


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


def _fold(aggregate: Any, events: Any) -> Any:
    """The library's `project_aggregate` without its per-event runtime Protocol check."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def payload_date(value: Any) -> str:
    """A date field (tagged, or decoded by the mapper) as ISO text."""
    if type(value) is dict:
        if value.get(TYPE_KEY) != "date":
            raise ValueError(f"not a date: {value!r}")
        value = date.fromisoformat(value[DATA_KEY])
    return value.isoformat()
