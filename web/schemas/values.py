"""The field types, patterns and base schema every schema of web.schemas is built from."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
)

from domain import common as domain_common
from domain import money as domain_money
from domain import validate as domain_validate
from domain.errors import ValidationError as DomainValidationError

CODE_PATTERN = domain_validate.CODE_PATTERN
PROJECT_CODE_PATTERN = domain_validate.PROJECT_CODE_PATTERN
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"

# The documented patterns say exactly what the app takes (schemathesis checks both ways:
# what matches is accepted, what does not is refused), in the regex syntax ECMA-262, Python
# and Rust share (no \p{...}, no \U escapes).
#
# Money: below 10^15 (MAX_AMOUNT), digits either plain or grouped by three with commas,
# at most two places; "positive" also needs a non-zero digit.
_DIGITS = r"(?:[0-9]{1,15}|[0-9]{1,3}(?:,[0-9]{3}){1,4})"
_CENTS = r"(?:\.[0-9]{1,2})?"
MONEY_PATTERNS = {"any": rf"^-?{_DIGITS}{_CENTS}$",
                  "non-zero": rf"^-?(?=[0-9,.]*[1-9]){_DIGITS}{_CENTS}$",
                  "non-negative": rf"^{_DIGITS}{_CENTS}$",
                  "positive": rf"^(?=[0-9,.]*[1-9]){_DIGITS}{_CENTS}$"}
MONEY_PATTERN = MONEY_PATTERNS["any"]


def _date_pattern(year: str, leap_year: str) -> str:
    """YYYY-MM-DD of a real day (29 February in leap years only), years given by `year`."""
    month_day = (r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
                 r"|(?:0[13578]|1[02])-31)")
    return rf"(?:{year}-{month_day}|{leap_year}-02-29)"


# Business dates: 1990-01-01 ... 2100-12-31 (domain.validate.day).
BUSINESS_DATE = _date_pattern(r"(?:199[0-9]|20[0-9]{2}|2100)",
                              r"(?:199[26]|20(?:[02468][048]|[13579][26]))")
DATE_PATTERN = rf"^{BUSINESS_DATE}$"
# Instants asked for (as_of): a date (its end, UTC) or a date and time, of years 1000-9999,
# optionally with seconds, fractions and a UTC offset (none: UTC).
_ANY_DATE = _date_pattern(r"[1-9][0-9]{3}", r"(?:[1-9][0-9](?:0[48]|[2468][048]|[13579][26])"
                                            r"|(?:[13579][26]|[2468][048])00)")
_TIME = r"T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
INSTANT_PATTERN = rf"^{_ANY_DATE}(?:{_TIME}(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)?$"
# Amounts stay below 10^15 so that totals of many of them keep every cent within Decimal's
# 28 significant digits (beyond them sums round silently, and quantize raises); the
# domain refuses the same (domain.money.LIMIT), the schema says so first, with the field.
MAX_AMOUNT = int(domain_money.LIMIT)
# Log positions asked for: at most 2^53 (every JSON client reads it exactly; a database
# integer is 64-bit, and 2^63 made SQLite raise OverflowError, a 500).
MAX_POSITION = 2**53
# MONEY_PATTERN, but any number of places (more than two get the domain's own message).
_AMOUNT_SHAPE = r"-?[0-9][0-9,]*(\.[0-9]+)?"


# Fields ------------------------------------------------------------------------------------


class BusinessDate(fields.Date):
    """A business date, YYYY-MM-DD, from 1990-01-01 to 2100-12-31 (the aggregate checks the
    same range: domain.validate.day)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("pattern", DATE_PATTERN)
        metadata.setdefault("example", "2026-03-01")
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        try:
            return domain_validate.day(value, attr or "date")
        except DomainValidationError as e:
            raise ValidationError(str(e).split(" ", 1)[1] if attr and str(e).startswith(attr) else str(e)) from None


class Money(fields.String):
    """An amount: a decimal string ("1250.00", "1,250.5"), never a JSON number (1250.5 as a
    float would not keep its cents exactly; the document says string).
    Loaded as a `Decimal` with exactly two places; more places are refused, not rounded.
    `sign`: "positive" (> 0, the default), "non-negative" (>= 0), "non-zero" (a signed
    change) or "any". Dumped as a decimal string with two places."""

    _checks = {"positive": domain_money.positive, "non-negative": domain_money.non_negative,
               "non-zero": domain_money.money, "any": domain_money.money}

    def __init__(self, *, sign: str = "positive", **kwargs: Any) -> None:
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("pattern", MONEY_PATTERNS[sign])
        metadata.setdefault("maxLength", 24)  # under MAX_AMOUNT: 15 digits, commas, cents
        metadata.setdefault("example", "1250.00")
        super().__init__(metadata=metadata, **kwargs)
        self.sign = sign

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, str) and not value.strip():
            raise ValidationError("an amount is required, such as 1250.00")
        if not isinstance(value, (str, Decimal)):  # JSON gives a string ("1250.00"), never a number
            raise ValidationError('must be a decimal amount as a string, such as "1250.00"')
        if isinstance(value, str) and not re.fullmatch(_AMOUNT_SHAPE, value.strip()):
            # Decimal() would take 1e3, NaN or " 1_000"; the documented pattern does not.
            raise ValidationError("must be a decimal amount such as 1250.00")
        too_large = f"must be less than {MAX_AMOUNT:,} in size"
        try:
            amount = self._checks[self.sign](value.strip() if isinstance(value, str) else value,
                                             attr or "amount")
        except DomainValidationError as e:
            raise ValidationError(e.message) from None
        except ArithmeticError:  # beyond Decimal's 28 digits: quantize cannot even try
            raise ValidationError(too_large) from None
        if abs(amount) >= MAX_AMOUNT:
            raise ValidationError(too_large)
        if self.sign == "non-zero" and not amount:
            raise ValidationError("must not be zero: a change of nothing")
        return amount

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return f"{Decimal(value).quantize(domain_money.CENT):f}"


class Code(fields.String):
    """An item code such as HW-01, M-03, D-2, a PO number: 1-40 letters, digits, . _ / -"""

    def __init__(self, **kwargs: Any) -> None:
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("pattern", CODE_PATTERN)
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not re.match(CODE_PATTERN, text):
            raise ValidationError("must be 1-40 letters, digits, '.', '_', '/' or '-'")
        return text


class ProjectCode(fields.String):
    """A project code such as IT-2026-014 (upper case letters and digits, dash-separated)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("pattern", PROJECT_CODE_PATTERN)
        metadata.setdefault("example", "IT-2026-014")
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not re.match(PROJECT_CODE_PATTERN, text):
            raise ValidationError("must look like IT-2026-014")
        return text


def _char_class(chars: list[int]) -> str:
    """Code points as the inside of a regex character class, in ranges, \\u-escaped."""
    out, i = [], 0
    while i < len(chars):
        j = i
        while j + 1 < len(chars) and chars[j + 1] == chars[j] + 1:
            j += 1
        out.append(f"\\u{chars[i]:04x}" + (f"-\\u{chars[j]:04x}" if j > i else ""))
        i = j + 1
    return "".join(out)


def _text_rules() -> tuple[str, str]:
    """The characters domain.common.text refuses (C0/C1 controls but tab and line breaks,
    bidi embeddings, overrides and isolates) and those it counts as nothing (white space,
    format and space characters: a zero-width space alone is no answer), as it answers them
    one by one, in the Basic Multilingual Plane (about 50 ms, once)."""
    forbidden, invisible = [], []
    for c in range(0x10000):
        try:
            if domain_common.text(chr(c), "c", required=False) == "":
                invisible.append(c)
        except DomainValidationError:
            forbidden.append(c)
    return _char_class(forbidden), _char_class(invisible)


_FORBIDDEN, _INVISIBLE = _text_rules()
# Not only white space (CommandSchema drops a value that is: it counts as not given).
NONBLANK_PATTERN = "[^" + _char_class([c for c in range(0x10000) if chr(c).isspace()]) + "]"
TEXT_PATTERN = rf"^[^{_FORBIDDEN}]*$"
REQUIRED_TEXT_PATTERN = rf"^[^{_FORBIDDEN}]*[^{_FORBIDDEN}{_INVISIBLE}][^{_FORBIDDEN}]*$"


class Text(fields.String):
    """Trimmed text, at most `limit` characters, as domain.common.text takes it: control
    characters and bidi overrides refused, nothing but invisible characters counts as empty.
    A required text, or an optional one with `allow_blank=False` (a new value for something
    that may not be empty: omit the field to leave it), refuses an empty one. The documented
    pattern says the same."""

    def __init__(self, *, limit: int = 4000, allow_blank: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("validate", validate.Length(max=limit))
        self.allow_blank = allow_blank and not kwargs.get("required")
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("pattern", TEXT_PATTERN if self.allow_blank else REQUIRED_TEXT_PATTERN)
        super().__init__(metadata=metadata, **kwargs)
        self.limit = limit

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        # The limit holds for the text as sent (the documented maxLength), not only once trimmed.
        if len(raw) > self.limit:
            raise ValidationError(f"Longer than maximum length {self.limit}.")
        name = attr or "text"
        try:
            return domain_common.text(raw, name, required=not self.allow_blank, limit=self.limit)
        except DomainValidationError as e:
            message = e.message
            raise ValidationError(message[len(name) + 1:] if message.startswith(name + " ")
                                  else message) from None


WHOLE_TEXT = re.compile(r"\s*-?[0-9]+\s*")


class Whole(fields.Integer):
    """A whole number: a JSON integer or a string of digits (a query parameter is text on
    the wire; so is a form's field); never 50.5 or true. (The JSON body's "3" is lenience
    kept for existing clients: the document says integer.)"""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise ValidationError("must be a whole number")
        if isinstance(value, str) and WHOLE_TEXT.fullmatch(value):
            value = int(value)
        if not isinstance(value, int):
            raise ValidationError("must be a whole number")
        return value


class Flag(fields.Boolean):
    """true or false, as JSON gives them (not "yes", "1" or 1); a form's select is turned
    into one by `form_data`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


class Lines(fields.List):
    """A list of texts. JSON gives a list, never a string (which would be read as one
    item, or iterate as letters); an HTML form's textarea, one item per line, is split into
    that list by `form_data` before the schema sees it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Text(limit=500, required=True), **kwargs)

    @staticmethod
    def split(textarea: str) -> list[str]:
        """A textarea's items: its non-blank lines."""
        return [line for line in textarea.splitlines() if line.strip()]


def choice(options: tuple[str, ...] | list[str], **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(list(options)), **kwargs)


# Base --------------------------------------------------------------------------------------


class CommandSchema(Schema):
    """Unknown fields are refused (a typo must not silently drop a value). A value is
    judged by its field whatever it is, "" included: an HTML form's empty fields (forms
    send every field) are left out by `form_data` before the schema sees them."""

    class Meta:
        unknown = RAISE
        ordered = True


def form_data(schema: Schema, form: Any) -> dict[str, Any]:
    """A werkzeug MultiDict (request.form / request.args) as a dict `schema.load` accepts:
    a field left empty (or blank) is not given; a `Lines` field's textarea becomes its list
    of non-blank lines; other list fields get every value (`getlist`), other fields their
    first value. The CSRF token and any field the schema does not know are left out."""
    out: dict[str, Any] = {}
    for name, field in schema.fields.items():
        key = field.data_key or name
        if key not in form:
            continue
        if isinstance(field, Lines) or not isinstance(field, fields.List):
            value = form.get(key)
            if isinstance(value, str) and not value.strip():
                continue
            out[key] = _from_text(field, value) if isinstance(value, str) else value
        elif hasattr(form, "getlist"):
            out[key] = form.getlist(key)
        else:
            out[key] = form.get(key)
    return out


def _from_text(field: fields.Field, value: str) -> Any:
    """A form's text as the JSON value its field takes: a textarea's lines for `Lines`,
    true/false for a `Flag` (anything else stays text, refused)."""
    if isinstance(field, Lines):
        return Lines.split(value)
    if isinstance(field, fields.Boolean):
        return _FORM_BOOLEANS.get(value.strip().lower(), value)
    return value


_FORM_BOOLEANS = {"true": True, "on": True, "yes": True, "1": True,
                  "false": False, "off": False, "no": False, "0": False}
