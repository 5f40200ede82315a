from decimal import Decimal

import pytest

from domain.errors import ValidationError
from domain.money import fmt, money, non_negative, positive


@pytest.mark.parametrize("value, expected", [
    ("1250", Decimal("1250.00")), ("1,250.5", Decimal("1250.50")), (Decimal("3.1"), Decimal("3.10")),
    (7, Decimal("7.00")), ("-2.25", Decimal("-2.25")),
])
def test_money_has_exactly_two_places(value, expected):
    result = money(value)
    assert result == expected and result.as_tuple().exponent == -2


@pytest.mark.parametrize("value", [1.5, True, "abc", "1.005", "NaN", None, "Infinity",
                                   "1000000000000000.00", "-1000000000000000", "9" * 27, 10**30])
def test_money_refuses_floats_garbage_and_fractions_of_cents(value):
    with pytest.raises(ValidationError):
        money(value)


def test_positive_and_non_negative():
    assert positive("0.01") == Decimal("0.01")
    assert non_negative("0") == Decimal("0.00")
    with pytest.raises(ValidationError, match="greater than zero"):
        positive("0")
    with pytest.raises(ValidationError, match="cannot be negative"):
        non_negative("-1")


def test_fmt_thousands_and_two_places():
    assert fmt(Decimal("1250")) == "1,250.00"
    assert fmt(Decimal("1234567.891")) == "1,234,567.89"
    assert fmt(Decimal("-0.5")) == "-0.50"
    assert fmt(Decimal("0.005")) == "0.01"  # half-up


def test_the_largest_amount_is_just_under_the_limit():
    """Regression: a 27-digit amount made quantize raise InvalidOperation (a 500 from the
    API); amounts are now refused at 10^15, where sums still keep their cents."""
    assert money("999999999999999.99") == Decimal("999999999999999.99")
