"""Canonical JSON (RFC 8785) for event payloads, as an `eventsourcing` transcoder.

Payload bytes are what gets hashed and signed, so the same event must always give the
same bytes. Values the library would leave to `json` (Decimal, date, datetime, UUID) go
through registered transcodings first; floats are refused outright (money is Decimal).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import rfc8785
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
        if obj.tzinfo is None or obj.utcoffset() is None:
            raise CanonicalEncodingError(f"datetime {obj!r} has no time zone; times are UTC")
        return obj.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def decode(self, data: str) -> datetime:
        return datetime.strptime(data, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


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
        plain, ascii_keys = self._to_plain(obj)
        if ascii_keys:
            # For ASCII keys, sorted by code point == sorted by UTF-16 unit, and the
            # stdlib's escaping with ensure_ascii=False matches RFC 8785 (ES6
            # JSON.stringify); tests check this equivalence against `rfc8785` itself.
            text = json.dumps(
                plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            )
            try:
                return text.encode("utf-8")
            except UnicodeEncodeError as e:
                raise CanonicalEncodingError(f"text is not valid Unicode: {e}") from None
        try:
            return rfc8785.dumps(plain)
        except rfc8785.CanonicalizationError as e:
            raise CanonicalEncodingError(str(e)) from None

    def decode(self, data: bytes) -> Any:
        return self._decoder.decode(data.decode("utf-8"))

    def _to_plain(self, obj: Any) -> tuple[Any, bool]:
        """Replace registered types by tagged dicts; refuse floats; note non-ASCII keys."""
        ascii_keys = True

        def walk(o: Any) -> Any:
            nonlocal ascii_keys
            t = type(o)
            if t is int:
                if not -_MAX_SAFE <= o <= _MAX_SAFE:
                    raise CanonicalEncodingError(f"integer {o} is outside the I-JSON range")
                return o
            if t is str or t is bool or o is None:
                return o
            if t is dict:
                out = {}
                for k, v in o.items():
                    if type(k) is not str:
                        raise CanonicalEncodingError(f"object key {k!r} is not a string")
                    if not k.isascii():
                        ascii_keys = False
                    out[k] = walk(v)
                return out
            if t is list or t is tuple:
                return [walk(v) for v in o]
            if t is float:
                raise CanonicalEncodingError(
                    f"float {o!r} in a payload: use Decimal for money and int for counts"
                )
            transcoding = self.types.get(t)
            if transcoding is None:
                raise CanonicalEncodingError(
                    f"no canonical encoding registered for {t.__qualname__}"
                )
            return {TYPE_KEY: transcoding.name, DATA_KEY: walk(transcoding.encode(o))}

        return walk(obj), ascii_keys

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


def canonical_bytes(obj: Any) -> bytes:
    """Canonical bytes of plain JSON data (no registered types), via `rfc8785` itself."""
    return rfc8785.dumps(obj)
