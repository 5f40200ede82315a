"""Input checks shared by the aggregates: each returns the clean value or raises
`ValidationError` naming the field, so the web can show the message next to it."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from domain.errors import ValidationError

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def code(value: Any, field: str) -> str:
    """An item code such as HW-01, M-03, D-2 or a PO number."""
    if not isinstance(value, str) or not _CODE.match(value.strip()):
        raise ValidationError(
            f"{field} must be 1-40 letters, digits, '.', '_', '/' or '-' (got {value!r})",
            field=field)
    return value.strip()


def day(value: Any, field: str) -> date:
    """A calendar date (a `date`, or an ISO string YYYY-MM-DD)."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(f"{field} {value!r} is not a date (YYYY-MM-DD)", field=field) from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(f"{field} must be a calendar date", field=field)
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
