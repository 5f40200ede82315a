"""Money: `Decimal` with exactly two places, one currency per project.

Inputs are refused rather than rounded when they carry more than two places: a silently
rounded invoice amount is a reconciliation problem later.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from domain.errors import ValidationError

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# The largest amount anyone may enter: a thousand trillion. Sums of many such amounts stay
# exact within Decimal's 28 digits (past them a sum silently loses its cents), and
# quantizing a 27-digit amount would raise rather than refuse.
LIMIT = Decimal("1000000000000000.00")


# A typed amount: digits with an optional sign and cents, thousands separated by commas
# only in groups of three ("1,234.56"); "1,00" or "1,0,0,0" is a typing error, not 100.
AMOUNT_TEXT = re.compile(r"-?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:\.[0-9]+)?")


def money(value: Any, field: str = "amount") -> Decimal:
    """`value` (Decimal, int or decimal string) as a Decimal with exactly two places."""
    if isinstance(value, bool) or isinstance(value, float):
        # Floats cannot represent cents exactly; bools are ints in Python.
        raise ValidationError(f"{field} must be a decimal amount such as 1250.00", field=field)
    if isinstance(value, str):
        value = value.strip()
        if not AMOUNT_TEXT.fullmatch(value):
            raise ValidationError(
                f"{field} {value[:40]!r} is not an amount: write 1234.56 or 1,234.56", field=field)
    try:
        d = Decimal(value.replace(",", "")) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError(f"{field} {value!r} is not an amount", field=field) from None
    if not d.is_finite():
        raise ValidationError(f"{field} must be a finite amount", field=field)
    if abs(d) >= LIMIT:
        raise ValidationError(f"{field} must be less than {fmt(LIMIT)} in size", field=field)
    if d != d.quantize(CENT):
        raise ValidationError(f"{field} {value} has more than two decimal places", field=field)
    return d.quantize(CENT)


def positive(value: Any, field: str = "amount") -> Decimal:
    """A money amount strictly greater than zero."""
    d = money(value, field)
    if d <= ZERO:
        raise ValidationError(f"{field} must be greater than zero (got {fmt(d)})", field=field)
    return d


def non_negative(value: Any, field: str = "amount") -> Decimal:
    """A money amount of zero or more (a budget line or milestone value may be zero)."""
    d = money(value, field)
    if d < ZERO:
        raise ValidationError(f"{field} cannot be negative (got {fmt(d)})", field=field)
    return d


def fmt(value: Decimal) -> str:
    """'1,250.00': thousands separators, two places, half-up, minus sign when negative."""
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"
