"""Canonical JSON (RFC 8785) for event payloads, as an `eventsourcing` transcoder.

Payload bytes are what gets hashed and signed, so the same event must always give the
same bytes. Values the library would leave to `json` (Decimal, date, datetime, UUID) go
through registered transcodings first; floats are refused outright (money is Decimal).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NoReturn
from uuid import UUID

from eventsourcing.persistence import Transcoder, Transcoding

from ledger.errors import CanonicalEncodingError

# RFC 8785 numbers are IEEE doubles: larger integers would not round-trip.
_MAX_SAFE = 2**53 - 1
TYPE_KEY = "_type_"
DATA_KEY = "_data_"


class DecimalAsString(Transcoding):
    """A Decimal as its plain decimal string ("1250.00"); never exponent notation."""

    type = Decimal
    name = "decimal"

    def encode(self, obj: Decimal) -> str:
        if not obj.is_finite():
            raise CanonicalEncodingError(f"decimal {obj} is not finite")
        return format(obj, "f")

    def decode(self, data: str) -> Decimal:
        return Decimal(data)


class DateAsISO(Transcoding):
    """A calendar date as ISO 8601 (YYYY-MM-DD)."""

    type = date
    name = "date"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DatetimeAsUTC(Transcoding):
    """An aware instant as ISO 8601 in UTC with a `Z`; naive datetimes are refused."""

    type = datetime
    name = "datetime"

    def encode(self, obj: datetime) -> str:
        if obj.tzinfo is UTC:  # the usual case, one C call: the same text with "+00:00" cut off
            return obj.isoformat(timespec="microseconds")[:-6] + "Z"
        if obj.tzinfo is None or obj.utcoffset() is None:
            raise CanonicalEncodingError(f"datetime {obj!r} has no time zone; times are UTC")
        if obj.tzinfo is not UTC:
            obj = obj.astimezone(UTC)
        # isoformat always writes a 4-digit year; strftime's %Y does not below year 1000
        # (glibc writes "999-..."), which is not ISO 8601 and did not decode.
        return obj.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"

    def decode(self, data: str) -> datetime:
        # fromisoformat reads the trailing Z since 3.11 and is ~20x faster than strptime,
        # which dominated loading a long project. Anything not UTC is refused.
        value = datetime.fromisoformat(data)
        if not data.endswith("Z") or value.utcoffset():
            raise CanonicalEncodingError(f"stored instant {data!r} is not UTC with a Z")
        return value


class UUIDAsString(Transcoding):
    """A UUID in its canonical hyphenated lower-case form."""

    type = UUID
    name = "uuid"

    def encode(self, obj: UUID) -> str:
        return str(obj)

    def decode(self, data: str) -> UUID:
        return UUID(data)


class CanonicalJSONTranscoder(Transcoder):
    """Encodes to RFC 8785 canonical JSON bytes; decodes registered types back."""

    def __init__(self) -> None:
        self.types: dict[type, Transcoding] = {}
        self.names: dict[str, Transcoding] = {}
        self._decoder = json.JSONDecoder(object_hook=self._decode_obj, parse_float=_no_float)

    def register(self, transcoding: Transcoding) -> None:
        self.types[transcoding.type] = transcoding
        self.names[transcoding.name] = transcoding

    def encode(self, obj: Any) -> bytes:
        return _encode_plain(self._to_plain(obj))

    def decode(self, data: bytes) -> Any:
        return self._decoder.decode(data.decode("utf-8"))

    def _to_plain(self, obj: Any) -> Any:
        """`obj` as plain JSON in canonical key order (`_plain`), registered types tagged;
        what has no canonical form is refused."""
        return _plain(obj, self._tag)

    def _tag(self, obj: Any) -> dict[str, Any]:
        transcoding = self.types.get(type(obj))
        if transcoding is None:
            _refuse(obj)
        data = transcoding.encode(obj)
        if type(data) is not str:  # the standard transcodings all give a string
            data = self._to_plain(data)
        # "_data_" sorts before "_type_": the tag is written in canonical order.
        return {DATA_KEY: data, TYPE_KEY: transcoding.name}

    def _decode_obj(self, d: dict[str, Any]) -> Any:
        if len(d) == 2 and TYPE_KEY in d and DATA_KEY in d:
            transcoding = self.names.get(d[TYPE_KEY])
            if transcoding is None:
                raise CanonicalEncodingError(f"unknown encoded type {d[TYPE_KEY]!r}")
            return transcoding.decode(d[DATA_KEY])
        return d


def _no_float(text: str) -> Any:
    raise CanonicalEncodingError(f"float {text} in a stored payload")


def canonical_transcoder() -> CanonicalJSONTranscoder:
    """A transcoder with the ledger's standard transcodings registered."""
    t = CanonicalJSONTranscoder()
    for transcoding in (DecimalAsString(), DateAsISO(), DatetimeAsUTC(), UUIDAsString()):
        t.register(transcoding)
    return t


# The one canonical encoder ---------------------------------------------------------------
#
# RFC 8785 is ES6's JSON.stringify of I-JSON with object keys sorted by UTF-16 code unit.
# The standard library's C encoder writes exactly that text (`ensure_ascii=False` escapes
# only `"`, `\\` and control characters, as ES6 does; integers are their digits) once
# every dict holds its keys in that order and every value is plain: `_plain` checks and
# orders, the C encoder writes. tests/test_canonical.py holds it to the `rfc8785` package.
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                           check_circular=False).encode


def canonical_bytes(obj: Any) -> bytes:
    """RFC 8785 canonical bytes of plain JSON data (str, int, bool, None, list, tuple,
    dict with str keys); anything else, a float or an integer beyond 2**53-1 is refused."""
    return _encode_plain(_plain(obj, _refuse))


def _encode_plain(plain: Any) -> bytes:
    """Plain data, its keys already in canonical order, as bytes."""
    try:
        return _ENCODE(plain).encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate
        raise CanonicalEncodingError(f"text is not valid Unicode: {e}") from None


def _plain(o: Any, other: Any) -> Any:
    """`o` checked, with its dicts' keys in canonical order; `other(value)` for what is not
    plain JSON (the transcoder's registered types)."""
    t = type(o)
    if t is dict:
        # Scalars are taken here rather than by a call each: an event's state is one
        # dict of them, and a call per field was most of the encoder's time.
        out = {}
        for k in _key_order(o):
            v = o[k]
            tv = type(v)
            if tv is str or tv is bool or v is None or (tv is int and -_MAX_SAFE <= v <= _MAX_SAFE):
                out[k] = v
            elif tv in _CONTAINERS or tv is int or tv is float:
                out[k] = _plain(v, other)
            else:
                out[k] = other(v)
        return out
    if t is str or t is bool or o is None:
        return o
    if t is int:
        if not -_MAX_SAFE <= o <= _MAX_SAFE:
            raise CanonicalEncodingError(f"integer {o} is outside the I-JSON range")
        return o
    if t is list or t is tuple:
        return [_plain(v, other) for v in o]
    if t is float:
        raise CanonicalEncodingError(
            f"float {o!r} in a payload: use Decimal for money and int for counts")
    return other(o)


_CONTAINERS = (dict, list, tuple)


def _key_order(d: dict[Any, Any]) -> list[str]:
    """The keys sorted by UTF-16 code unit (for ASCII keys, plain sorting is the same)."""
    try:
        joined = "".join(d)  # fails on any key that is not a string
    except TypeError:
        bad = next(k for k in d if type(k) is not str)
        raise CanonicalEncodingError(f"object key {bad!r} is not a string") from None
    return sorted(d) if joined.isascii() else sorted(d, key=_utf16)


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _refuse(o: Any) -> NoReturn:
    raise CanonicalEncodingError(f"no canonical encoding registered for {type(o).__qualname__}")
