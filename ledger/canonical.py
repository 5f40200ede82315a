"""Canonical JSON (RFC 8785) for event payloads, as an `eventsourcing` transcoder.

Payload bytes are what gets hashed and signed, so the same event must always give the
same bytes. Values the library would leave to `json` (Decimal, date, datetime, UUID) go
through registered transcodings first; floats are refused outright (money is Decimal).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from json.encoder import encode_basestring
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
        # Types the fast path may hand to the C encoder as they are: plain scalars, and
        # registered types whose standard transcoding gives a plain string.
        self._leaf_types: set[type] = {str, bool, type(None)}
        # Flattest path (an event's state: one dict of scalars): per key set, in the
        # order the dict holds them (one per event class), its keys sorted with their
        # encoded prefixes; (encode, tail) per leaf type.
        self._flat_shapes: dict[tuple[Any, ...], tuple[tuple[str, str], ...] | None] = {}
        self._flat_tags: dict[type, tuple[Any, str]] = {}
        self._encoder = json.JSONEncoder(
            default=self._tag, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
            allow_nan=False, check_circular=False,
        )

    def register(self, transcoding: Transcoding) -> None:
        self.types[transcoding.type] = transcoding
        self.names[transcoding.name] = transcoding
        if type(transcoding) in _STRING_TRANSCODINGS:
            self._leaf_types.add(transcoding.type)
            self._flat_tags[transcoding.type] = (
                transcoding.encode, ',"_type_":' + _json_string(transcoding.name) + "}"
            )
        else:
            self._leaf_types.discard(transcoding.type)
            self._flat_tags.pop(transcoding.type, None)

    def encode(self, obj: Any) -> bytes:
        if type(obj) is dict:
            text = self._encode_flat(obj)
            if text is not None:
                try:
                    return text.encode("utf-8")
                except UnicodeEncodeError as e:
                    raise CanonicalEncodingError(f"text is not valid Unicode: {e}") from None
        if self._fast(obj):
            # Fast path, same bytes: every value is one the C encoder writes exactly as
            # `_to_plain` + `json.dumps` below would (checked by `_fast`), and registered
            # types reach `_tag`, which tags them as `_to_plain` does.
            try:
                return self._encoder.encode(obj).encode("utf-8")
            except UnicodeEncodeError as e:
                raise CanonicalEncodingError(f"text is not valid Unicode: {e}") from None
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

    def _encode_flat(self, d: dict[str, Any]) -> str | None:
        """`d` as the general path would write it, when it is one dict of scalars; else None.

        The same text as `json.dumps(plain, sort_keys=True, separators=(",", ":"),
        ensure_ascii=False)`: keys sorted, strings through the same `encode_basestring`,
        ints by `repr`, registered types tagged `{"_data_":...,"_type_":...}`.
        """
        try:
            shape = self._flat_shapes.get(tuple(d))
        except TypeError:  # an unhashable key cannot be in a dict; kept for safety
            return None
        if shape is None:
            shape = self._flat_shape(d)
            if shape is None:
                return None
        tags, esc = self._flat_tags, _json_string
        parts = []
        append = parts.append
        for k, prefix in shape:
            v = d[k]
            t = type(v)
            if t is str:
                append(prefix + esc(v))
            elif v is None:
                append(prefix + "null")
            elif t is bool:
                append(prefix + ("true" if v else "false"))
            elif t is int and -_MAX_SAFE <= v <= _MAX_SAFE:
                append(prefix + repr(v))
            else:
                tag = tags.get(t)
                if tag is None:
                    return None
                append(prefix + '{"_data_":' + esc(tag[0](v)) + tag[1])
        return "{" + ",".join(parts) + "}"

    def _flat_shape(self, d: dict[str, Any]) -> tuple[tuple[str, str], ...] | None:
        """(key, encoded key + ":") in canonical order, when every key is ASCII text (then
        sorted by code point is sorted by UTF-16 unit); remembered per key set."""
        if not all(type(k) is str and k.isascii() for k in d):
            return None
        shape = tuple((k, _json_string(k) + ":") for k in sorted(d))
        if len(self._flat_shapes) < 10_000:  # bounded: key sets are few (one per event class)
            self._flat_shapes[tuple(d)] = shape
        return shape

    def _fast(self, o: Any) -> bool:
        """True when `o` holds only ASCII-keyed dicts, lists, safe integers and leaf types."""
        t = type(o)
        if t is dict:
            if o and (set(map(type, o)) != _STR_ONLY or not "".join(o).isascii()):
                return False
            values: Any = o.values()
        elif t is list or t is tuple:
            values = o
        else:
            return t in self._leaf_types or (t is int and -_MAX_SAFE <= o <= _MAX_SAFE)
        types = set(map(type, values))
        if types <= self._leaf_types:
            return True
        fast = self._fast
        for vt in types - self._leaf_types:
            if vt is int:
                if not all(-_MAX_SAFE <= v <= _MAX_SAFE for v in values if type(v) is int):
                    return False
            elif vt is dict or vt is list or vt is tuple:
                if not all(fast(v) for v in values if type(v) is vt):
                    return False
            else:
                return False
        return True

    def _tag(self, o: Any) -> dict[str, Any]:
        transcoding = self.types[type(o)]  # only leaf types get here (see `_fast`)
        return {TYPE_KEY: transcoding.name, DATA_KEY: transcoding.encode(o)}

    def _decode_obj(self, d: dict[str, Any]) -> Any:
        if len(d) == 2 and TYPE_KEY in d and DATA_KEY in d:
            transcoding = self.names.get(d[TYPE_KEY])
            if transcoding is None:
                raise CanonicalEncodingError(f"unknown encoded type {d[TYPE_KEY]!r}")
            return transcoding.decode(d[DATA_KEY])
        return d


# Transcodings whose `encode` returns a plain string: safe for the fast path.
_STRING_TRANSCODINGS = (DecimalAsString, DateAsISO, DatetimeAsUTC, UUIDAsString)
_STR_ONLY = {str}
_json_string = encode_basestring  # what json.dumps uses with ensure_ascii=False


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
