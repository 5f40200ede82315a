"""What a verifier may take from a stored payload, and whether the bytes are canonical.

A stored payload must be byte for byte the RFC 8785 serialisation of its own parse: a
repeated key, an escape or a number written another way, a float, an integer outside
the I-JSON range or bytes that are not UTF-8 all make it `non-canonical`. No separate
test for repeated keys is needed: the parse keeps one of them, so its serialisation is
shorter than the stored bytes.

The actor of an event is its payload's `actor_id`: the person the event says acted. The
key that signed the event must be that person's (FORMAT.md, "Whose signature").
"""

from __future__ import annotations

import json
import re
from typing import Any

from ledger.canonical import canonical_bytes

ACTOR_FIELD = "actor_id"
_MAX_SAFE = 2**53 - 1
LOWER_HEX_64 = re.compile(r"[0-9a-f]{64}")
ANY_HEX_64 = re.compile(r"[0-9a-fA-F]{64}")


class NotCanonical(ValueError):
    """The stored bytes are not the canonical form of any JSON value."""


def _refuse_float(text: str) -> Any:
    raise NotCanonical(f"number {text} is not an integer (money is a decimal string)")


def _refuse_constant(text: str) -> Any:
    raise NotCanonical(f"{text} is not JSON")


def _safe_int(text: str) -> int:
    value = int(text)
    if not -_MAX_SAFE <= value <= _MAX_SAFE:
        raise NotCanonical(f"integer {text} is outside the I-JSON range")
    return value


# The C scanner, calling back only for ints, floats and NaN/Infinity.
_parse = json.JSONDecoder(
    parse_float=_refuse_float, parse_int=_safe_int, parse_constant=_refuse_constant,
).decode


def parse_canonical(state: bytes) -> tuple[Any, str | None]:
    """(the parsed value or None, why the bytes are not canonical or None)."""
    try:
        text = state.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, f"payload is not UTF-8: {e}"
    try:
        value = _parse(text)
    except NotCanonical as e:
        return None, str(e)
    except ValueError as e:
        return None, f"payload is not JSON: {e}"
    try:
        # The ledger's one canonical encoder (ledger/canonical.py), which wrote the bytes.
        again = canonical_bytes(value).decode("utf-8")
    except ValueError as e:
        return value, f"payload has no canonical form: {e}"
    if again != text:
        return value, _difference(text, again)
    return value, None


def _difference(found: str, expected: str) -> str:
    at = next((i for i, (a, b) in enumerate(zip(found, expected, strict=False)) if a != b),
              min(len(found), len(expected)))
    return (f"payload is not RFC 8785 canonical JSON (a repeated key, or a key, escape or "
            f"number written another way): at character {at} expected "
            f"{expected[at:at + 24]!r}, found {found[at:at + 24]!r}")


def actor_of(value: Any) -> tuple[bool, Any]:
    """(whether the payload names an actor, the actor it names)."""
    if type(value) is dict and ACTOR_FIELD in value:
        return True, value[ACTOR_FIELD]
    return False, None


def lower_hex_64(data: dict[str, Any], name: str) -> str:
    """A 32-byte value written as FORMAT.md fixes it: 64 lower-case hex digits."""
    value = data[name]
    if type(value) is str and LOWER_HEX_64.fullmatch(value):
        return value
    if type(value) is str and ANY_HEX_64.fullmatch(value):
        raise NotCanonical(f"{name} must be 64 lower-case hex digits, found {value!r:.80}")
    raise ValueError(f"{name} is not 32 bytes of hex: {value!r:.80}")
