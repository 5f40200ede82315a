"""Input checks shared by the aggregates: each returns the clean value or raises
`ValidationError` naming the field, so the web can show the message next to it."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

from domain.errors import ValidationError

# The patterns the domain checks and the web's schemas (and OpenAPI document) declare:
# written once, here.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$"  # an item code: HW-01, M-03, PO-7
PROJECT_CODE_PATTERN = r"^[A-Z][A-Z0-9]{0,9}(-[A-Z0-9]{1,10}){1,4}$"  # IT-2026-014
CURRENCY_PATTERN = r"^[A-Z]{3}$"  # ISO 4217

_CODE = re.compile(CODE_PATTERN)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def code(value: Any, field: str) -> str:
    """An item code such as HW-01, M-03, D-2 or a PO number."""
    if not isinstance(value, str) or not _CODE.match(value.strip()):
        raise ValidationError(
            f"{field} must be 1-40 letters, digits, '.', '_', '/' or '-' (got {value!r})",
            field=field)
    return value.strip()


# Every business date (invoice, charter, milestone, progress, report period) lies in this
# range: far dates are typing errors, and a charter to 9999-12-31 made pages plot 96,000
# month-ends. Recorded times are the server's clock and are not limited.
FIRST_BUSINESS_DATE = date(1990, 1, 1)
LAST_BUSINESS_DATE = date(2100, 12, 31)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def day(value: Any, field: str) -> date:
    """A business date: a `date`, or a string YYYY-MM-DD (not 20260101 nor 2026-W01-1, which
    Python's ISO parser also reads), from 1990-01-01 to 2100-12-31."""
    if isinstance(value, str):
        text_value = value.strip()
        try:
            if not _ISO_DATE.fullmatch(text_value):
                raise ValueError(text_value)
            value = date.fromisoformat(text_value)
        except ValueError:
            raise ValidationError(f"{field} {value[:40]!r} is not a date (YYYY-MM-DD)", field=field) from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(f"{field} must be a calendar date", field=field)
    if not FIRST_BUSINESS_DATE <= value <= LAST_BUSINESS_DATE:
        raise ValidationError(
            f"{field} {value.isoformat()} is outside the business dates "
            f"{FIRST_BUSINESS_DATE.isoformat()} to {LAST_BUSINESS_DATE.isoformat()}", field=field)
    return value


# Invisible characters (format controls: zero-width spaces and joiners, soft hyphen, word
# joiner, BOM, bidi marks) are dropped from a match key, and dash and space variants unified.
_DASHES = re.compile(r"[\u2010-\u2015\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d]")


def match_key(value: str) -> str:
    """The key two typings of the same name or number share: Unicode NFKC, case-folded,
    invisible characters removed, every dash a '-' and every run of spaces one space.
    Compared, never stored: the text stays as typed ("INV-1" and "inv‐1" are one invoice)."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    visible = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    return " ".join(_DASHES.sub("-", visible).split())


# The most entries a list in a command may hold (objectives, artifacts, impacts, new
# deliverables): 30,000 objectives once made one 12 MB event and a 12 MB page.
MAX_ITEMS = 50


def items(value: Any, field: str, *, at_least: int = 0, what: str = "entries") -> list[Any]:
    """A list (never a string, which iterates as letters) of at most MAX_ITEMS entries."""
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise ValidationError(f"{field} must be a list of {what}", field=field)
    if len(value) < at_least:
        raise ValidationError(f"{field} needs at least {at_least} of {what}", field=field)
    if len(value) > MAX_ITEMS:
        raise ValidationError(f"{field} holds {len(value)} {what}; at most {MAX_ITEMS}", field=field)
    return value


def period(start: date, finish: date, start_field: str, finish_field: str) -> None:
    if finish < start:
        raise ValidationError(
            f"{finish_field} {finish.isoformat()} is before {start_field} {start.isoformat()}",
            field=finish_field)


def whole(value: Any, field: str, lo: int, hi: int) -> int:
    """A whole number between lo and hi inclusive."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValidationError(f"{field} must be a whole number from {lo} to {hi}", field=field)
    return value


def choice(value: Any, field: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValidationError(f"{field} must be one of: {', '.join(options)} (got {value!r})",
                              field=field)
    return value


def sha256(value: Any, field: str) -> str | None:
    """An optional lower-case hex SHA-256 (a document fingerprint)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _SHA256.match(value.strip().lower()):
        raise ValidationError(f"{field} must be 64 hexadecimal characters (a SHA-256)", field=field)
    return value.strip().lower()
