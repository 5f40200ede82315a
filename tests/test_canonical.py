"""The canonical JSON transcoder: byte-identical to RFC 8785 (the `rfc8785` package) on plain
data, lossless for the registered types, and refusing what has no canonical form."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import canonical_bytes, canonical_transcoder
from ledger.errors import CanonicalEncodingError

MAX_SAFE = 2**53 - 1
T = canonical_transcoder()

# Text without lone surrogates (they are not Unicode scalar values; see the refusal test).
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
ascii_text = st.text(st.characters(max_codepoint=0x7F), max_size=8)
plain_scalars = st.none() | st.booleans() | st.integers(-MAX_SAFE, MAX_SAFE) | text


def plain_json(keys: st.SearchStrategy[str]) -> st.SearchStrategy:
    return st.recursive(
        plain_scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=20,
    )


@settings(max_examples=300, deadline=None)
@given(plain_json(ascii_text))
def test_matches_rfc8785_with_ascii_keys(obj):
    assert T.encode(obj) == rfc8785.dumps(obj)


@settings(max_examples=300, deadline=None)
@given(plain_json(text))
def test_matches_rfc8785_with_any_keys(obj):
    assert T.encode(obj) == rfc8785.dumps(obj) == canonical_bytes(obj)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(text, text, min_size=2, max_size=6))
def test_key_order_is_by_utf16_code_units(d):
    keys = list(json.loads(T.encode(d)))
    assert keys == sorted(d, key=lambda k: k.encode("utf-16-be"))


def test_known_vectors():
    assert T.encode({"b": 1, "a": [True, None, "\u20ac"], "\u00e9": "x", "\U0001f600": 0, "\ufb01": 0}) == (
        '{"a":[true,null,"\u20ac"],"b":1,"\u00e9":"x","\U0001f600":0,"\ufb01":0}'.encode())
    assert T.encode("\x00\x1f\"\\/\u2028\x7f") == b'"\\u0000\\u001f\\"\\\\/\xe2\x80\xa8\x7f"'


amounts = st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**12, max_value=10**12)
aware = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
)
typed = st.one_of(amounts, st.dates(), aware, st.uuids(), plain_scalars)
payloads = st.dictionaries(ascii_text, st.recursive(
    typed, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=10,
), max_size=5)


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_round_trip_of_registered_types(obj):
    data = T.encode(obj)
    back = T.decode(data)
    assert back == obj
    assert T.encode(back) == data  # decoding and re-encoding gives the same bytes
    assert rfc8785.dumps(json.loads(data)) == data  # and they are canonical


@settings(max_examples=100, deadline=None)
@given(aware)
def test_datetimes_are_stored_in_utc_with_z(when):
    (encoded,) = json.loads(T.encode([when]))
    text = encoded["_data_"]
    assert text.endswith("Z") and len(text) == len("2024-01-01T00:00:00.000000Z")
    assert T.decode(T.encode(when)) == when
    assert T.decode(T.encode(when)).utcoffset() == timedelta(0)


def test_registered_type_encodings():
    assert T.encode(Decimal("1250.00")) == b'{"_data_":"1250.00","_type_":"decimal"}'
    assert T.encode(Decimal("1E+3")) == b'{"_data_":"1000","_type_":"decimal"}'  # never exponents
    assert T.encode(date(2024, 5, 1)) == b'{"_data_":"2024-05-01","_type_":"date"}'
    assert T.encode(datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=2)))) == (
        b'{"_data_":"2024-05-01T10:00:00.000000Z","_type_":"datetime"}')
    # Regression: years below 1000 were written "999-..." (strftime %Y), not ISO 8601.
    early = datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert T.encode(early) == b'{"_data_":"0999-01-02T03:04:05.000006Z","_type_":"datetime"}'
    assert T.decode(T.encode(early)) == early
    u = UUID("12345678-1234-5678-1234-567812345678")
    assert T.encode(u) == b'{"_data_":"12345678-1234-5678-1234-567812345678","_type_":"uuid"}'


@pytest.mark.parametrize("bad", [
    1.5, 0.0, {"amount": 2.5}, [1, [2.0]],  # floats, anywhere
    datetime(2024, 1, 1),  # naive datetime
    {"at": datetime(2024, 1, 1, 12)},
    Decimal("NaN"), Decimal("Infinity"),
    2**53, -(2**53),  # beyond I-JSON integers
    {1: "non-string key"},
    {"x": object()},  # no registered encoding
    b"bytes",
    "lone \ud800 surrogate",
])
def test_values_without_a_canonical_form_are_refused(bad):
    with pytest.raises(CanonicalEncodingError):
        T.encode(bad)


def test_refusal_is_also_a_value_error():
    with pytest.raises(ValueError):
        T.encode({"f": 0.1})


@pytest.mark.parametrize("stored", [b'{"amount":1.5}', b'[1e3]', b'{"x":{"_type_":"nope","_data_":"1"}}'])
def test_stored_payloads_with_floats_or_unknown_types_are_refused_on_decode(stored):
    with pytest.raises(CanonicalEncodingError):
        T.decode(stored)
