"""Marshmallow schemas shared by the JSON API and the HTML forms.

One schema per command. `Schema().load(data)` turns JSON or form input into the keyword
arguments of the `PMOApplication` command (everything after `actor` and the project code /
item id taken from the URL), with money as `Decimal` with exactly two places, dates as
`date`, codes trimmed and checked. A refused input raises `marshmallow.ValidationError`
whose `.messages` is `{field: [message, ...]}`; `web.errors` turns it into a 422 with code
`validation` (JSON for /api/, the page's own renderer for forms).

Forms: pass `form_data(schema, request.form)` to `load()` — it keeps every value of a list
field (`getlist`) and one value otherwise. Empty strings count as "not given", so an empty
optional field is simply absent and an empty required field is reported as missing.

    kwargs = ExpenditureSchema().load(form_data(ExpenditureSchema(), request.form))
    expenditure_id = pmo.submit_expenditure(actor, code, **kwargs)

The schemas check shape and syntax; business rules (overdraw, segregation of duties,
gate order...) stay in the domain, which raises `domain.errors` errors with a field name.
"""

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
    post_load,
    validate,
    validates_schema,
)

from domain import common as domain_common
from domain import money as domain_money
from domain import validate as domain_validate
from domain.common import ROLES
from domain.errors import ValidationError as DomainValidationError
from domain.policy import GATES
from domain.project import CATEGORIES, DECISIONS, RAG, RISK_STATUSES, SEVERITIES
from domain.services import MAX_TOKEN_DAYS, TOKEN_DAYS
from domain.validate import MAX_ITEMS

__all__ = [
    "ApprovalSchema", "AmendCharterSchema", "AsOfQuerySchema", "BudgetLineSchema",
    "ChangeRequestSchema", "CharterSchema", "CommitmentSchema", "DeliverableSchema",
    "EnrolSchema", "ErrorSchema", "EventsQuerySchema", "ExpenditureSchema", "GateConditionsMetSchema",
    "GateReviewSchema", "GateSignoffSchema", "IssueEscalationSchema", "IssueResolutionSchema",
    "IssueSchema", "MilestoneAcceptanceSchema", "MilestoneSchema", "ProgressSchema",
    "ReasonSchema", "RiskSchema", "RoleSchema", "RiskUpdateSchema", "StatusReportSchema", "TokenRequestSchema",
    "TransferSchema", "VarianceQuerySchema", "form_data",
]

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


def _choice(options: tuple[str, ...] | list[str], **kwargs: Any) -> fields.String:
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


# Tokens ------------------------------------------------------------------------------------


class TokenRequestSchema(CommandSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=120),
                             metadata={"pattern": NONBLANK_PATTERN})
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000),
                             load_only=True, metadata={"pattern": NONBLANK_PATTERN})
    label = Text(limit=120, load_default="api", allow_blank=False)
    days = fields.Integer(load_default=TOKEN_DAYS, strict=True,
                          validate=validate.Range(min=1, max=MAX_TOKEN_DAYS),
                          metadata={"description": "How long the token works (days)"})


class TokenSchema(Schema):
    token = fields.String(required=True)
    token_id = fields.String(required=True)
    username = fields.String(required=True)
    expires_at = fields.DateTime(required=True, metadata={"description": "UTC; refused from then on"})


# Charter -----------------------------------------------------------------------------------


class CharterSchema(CommandSchema):
    """Loads as `charter_project` kwargs: `target_finish_date` becomes `target_finish`,
    `capital` (true/false) becomes `funding_type` ("capital"/"operating").
    `business_relationship_manager` and `cost_centre` are optional and default to
    "not assigned"; `currency` defaults to USD."""

    code = ProjectCode(required=True)
    title = Text(required=True, limit=200)
    sponsor = Text(required=True, limit=200)
    project_manager = Text(required=True, limit=200)
    business_relationship_manager = Text(limit=200, load_default="not assigned", allow_blank=False)
    start_date = BusinessDate(required=True)
    target_finish_date = BusinessDate(required=True)
    fund = Text(required=True, limit=200)
    cost_centre = Text(limit=200, load_default="not assigned", allow_blank=False)
    capital = Flag(required=True, metadata={
        "description": "true for capital funding, false for operating"})
    objectives = Lines(required=True, validate=validate.Length(min=1, max=MAX_ITEMS))
    scope_statement = Text(required=True, limit=4000)
    currency = fields.String(load_default="USD", validate=validate.Regexp(domain_validate.CURRENCY_PATTERN))

    @validates_schema
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, finish = data.get("start_date"), data.get("target_finish_date")
        if start and finish and finish < start:
            raise ValidationError("is before start_date", field_name="target_finish_date")

    @post_load
    def _command(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["target_finish"] = data.pop("target_finish_date")
        data["funding_type"] = "capital" if data.pop("capital") else "operating"
        return data


class AmendCharterSchema(CommandSchema):
    """Loads as `amend_charter` kwargs: {"changes": {...}, "reason": ...}."""

    title = Text(limit=200, allow_blank=False)
    sponsor = Text(limit=200, allow_blank=False)
    project_manager = Text(limit=200, allow_blank=False)
    business_relationship_manager = Text(limit=200, allow_blank=False)
    start_date = BusinessDate()
    target_finish_date = BusinessDate()
    fund = Text(limit=200, allow_blank=False)
    cost_centre = Text(limit=200, allow_blank=False)
    capital = Flag()
    objectives = Lines(validate=validate.Length(min=1, max=MAX_ITEMS))
    scope_statement = Text(limit=4000, allow_blank=False)
    reason = Text(required=True)

    @post_load
    def _command(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        reason = data.pop("reason")
        if "target_finish_date" in data:
            data["target_finish"] = data.pop("target_finish_date")
        if "capital" in data:
            data["funding_type"] = "capital" if data.pop("capital") else "operating"
        if not data:
            raise ValidationError({"_schema": ["the amendment changes nothing"]})
        return {"changes": data, "reason": reason}


# Baseline ----------------------------------------------------------------------------------


class BudgetLineSchema(CommandSchema):
    """`add_budget_line` kwargs; `name` defaults to the line code."""

    line = Code(required=True, metadata={"example": "HW-01"})
    name = Text(limit=200, allow_blank=False)
    category = _choice(CATEGORIES, required=True)
    amount = Money(sign="non-negative", required=True)

    @post_load
    def _command(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data.setdefault("name", data["line"])
        return data


class MilestoneSchema(CommandSchema):
    """`add_milestone` kwargs."""

    milestone = Code(required=True, metadata={"example": "M-01"})
    name = Text(required=True, limit=200)
    planned_start = BusinessDate(required=True)
    planned_finish = BusinessDate(required=True)
    budgeted_value = Money(sign="non-negative", required=True)

    @validates_schema
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, finish = data.get("planned_start"), data.get("planned_finish")
        if start and finish and finish < start:
            raise ValidationError("is before planned_start", field_name="planned_finish")


class DeliverableSchema(CommandSchema):
    """`add_deliverable` kwargs."""

    deliverable = Code(required=True, metadata={"example": "D-01"})
    name = Text(required=True, limit=200)
    description = Text(load_default="")


class ProgressSchema(CommandSchema):
    """`report_progress` kwargs: `percent_complete` becomes `percent`."""

    milestone = Code(required=True)
    percent_complete = Whole(required=True, validate=validate.Range(min=0, max=100))
    as_of = BusinessDate(required=True)
    note = Text(load_default="")

    @post_load
    def _command(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["percent"] = data.pop("percent_complete")
        return data


class MilestoneAcceptanceSchema(CommandSchema):
    """`accept_milestone` kwargs (the milestone comes from the URL)."""

    accepted_on = BusinessDate(required=True)
    reason = Text(load_default="")


# Decisions ---------------------------------------------------------------------------------


class ApprovalSchema(CommandSchema):
    """An approval: the reason is optional."""

    reason = Text(load_default="")


class ReasonSchema(CommandSchema):
    """A rejection, withdrawal, reversal, release or closure: the reason is required."""

    reason = Text(required=True)


# People (the administrator's forms) ----------------------------------------------------------


class EnrolSchema(CommandSchema):
    """`enrol_person` kwargs (the signing key's passphrase is the server's)."""

    username = Text(required=True, limit=40)
    name = Text(required=True, limit=120, metadata={"description": "printed name"})
    email = Text(load_default="", limit=200)
    password = fields.String(required=True, load_only=True, validate=validate.Length(
        min=4, max=1000, error="a password needs at least {min} characters"),
        metadata={"widget": "password", "description": "initial password"})


class RoleSchema(CommandSchema):
    """`grant_role` / `revoke_role` kwargs (the username comes from the URL); no project
    means the role holds on every project."""

    role = _choice(ROLES, required=True)
    project = ProjectCode(load_default=None, allow_none=True)
    reason = Text(required=True)


# Expenditures, commitments, transfers --------------------------------------------------------


class ExpenditureSchema(CommandSchema):
    """`submit_expenditure` kwargs."""

    line = Code(required=True)
    amount = Money(required=True)
    vendor = Text(required=True, limit=200)
    invoice_number = Text(required=True, limit=60)  # as the aggregate (domain/project.py)
    invoice_date = BusinessDate(required=True)
    description = Text(required=True)
    po_number = Code(load_default=None, allow_none=True)
    document_sha256 = fields.String(load_default=None, allow_none=True,
                                    validate=validate.Regexp(SHA256_PATTERN, error="must be a SHA-256: 64 hexadecimal characters"))

    @post_load
    def _command(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if data.get("document_sha256"):
            data["document_sha256"] = data["document_sha256"].lower()
        return data


class CommitmentSchema(CommandSchema):
    """`submit_commitment` kwargs."""

    po_number = Code(required=True, metadata={"example": "PO-2025-001"})
    vendor = Text(required=True, limit=200)
    line = Code(required=True)
    amount = Money(required=True)
    description = Text(load_default="")


class TransferSchema(CommandSchema):
    """`request_budget_transfer` kwargs."""

    from_line = Code(required=True)
    to_line = Code(required=True)
    amount = Money(required=True)
    reason = Text(required=True)

    @validates_schema
    def _different(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("from_line") and data.get("from_line") == data.get("to_line"):
            raise ValidationError("must differ from from_line", field_name="to_line")


# Change requests ---------------------------------------------------------------------------


class CostImpactSchema(CommandSchema):
    line = Code(required=True)
    amount = Money(sign="non-zero", required=True, metadata={
        "description": "signed change to the line's budget, e.g. -500.00"})
    name = Text(limit=200, allow_blank=False, metadata={"description": "for a new line"})
    category = _choice(CATEGORIES, metadata={"description": "for a new line"})


class ScheduleImpactSchema(CommandSchema):
    milestone = Code(required=True)
    planned_start = BusinessDate()
    planned_finish = BusinessDate()
    budgeted_value = Money(sign="non-negative")


class NewDeliverableSchema(CommandSchema):
    deliverable = Code(required=True)
    name = Text(required=True, limit=200)


class ChangeRequestSchema(CommandSchema):
    """`submit_change_request` kwargs."""

    title = Text(required=True, limit=200)
    description = Text(required=True)
    justification = Text(required=True)
    cost_impacts = fields.List(fields.Nested(CostImpactSchema), load_default=list,
                               validate=validate.Length(max=MAX_ITEMS))
    schedule_impacts = fields.List(fields.Nested(ScheduleImpactSchema), load_default=list,
                                   validate=validate.Length(max=MAX_ITEMS))
    scope_impact = Text(load_default="")
    deliverables = fields.List(fields.Nested(NewDeliverableSchema), load_default=list,
                               validate=validate.Length(max=MAX_ITEMS))

    @validates_schema
    def _some_impact(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not (data.get("cost_impacts") or data.get("schedule_impacts")
                or data.get("deliverables") or data.get("scope_impact")):
            raise ValidationError("a change request needs a cost, schedule or scope impact")


# Gates -------------------------------------------------------------------------------------


class ArtifactSchema(CommandSchema):
    name = Text(required=True, limit=200)
    sha256 = fields.String(validate=validate.Regexp(SHA256_PATTERN))
    uri = Text(limit=500)


class GateReviewSchema(CommandSchema):
    """`request_gate_review` kwargs (the gate comes from the URL). `artifacts` is a list of
    objects; the form's textarea of names is web.forms.GateReviewFormSchema's."""

    artifacts = fields.List(fields.Nested(ArtifactSchema), required=True,
                            validate=validate.Length(min=1, max=MAX_ITEMS))
    note = Text(load_default="")


class GateSignoffSchema(CommandSchema):
    """`sign_off_gate` kwargs (the gate comes from the URL)."""

    decision = _choice(DECISIONS, required=True)
    conditions = Text(load_default="")
    reason = Text(load_default="")
    as_role = _choice(("fiscal", "sponsor", "pmo"), load_default=None, allow_none=True)

    @validates_schema
    def _explained(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("decision") == "approved-with-conditions" and not data.get("conditions"):
            raise ValidationError("an approval with conditions states them", field_name="conditions")
        if data.get("decision") == "rejected" and not data.get("reason"):
            raise ValidationError("a rejection needs a reason", field_name="reason")


class GateConditionsMetSchema(CommandSchema):
    """`record_gate_conditions_met` kwargs."""

    conditions = Lines(required=True, validate=validate.Length(min=1))
    reason = Text(required=True)


GATE_CODES = GATES


# Risks, issues, status reports ---------------------------------------------------------------


class RiskSchema(CommandSchema):
    """`raise_risk` kwargs."""

    title = Text(required=True, limit=200)
    probability = Whole(required=True, validate=validate.Range(min=1, max=5))
    impact = Whole(required=True, validate=validate.Range(min=1, max=5))
    owner = Text(required=True, limit=120)
    mitigation = Text(required=True)
    description = Text(load_default="")


class RiskUpdateSchema(CommandSchema):
    """`update_risk` kwargs (only the fields given change)."""

    reason = Text(required=True)
    probability = Whole(validate=validate.Range(min=1, max=5))
    impact = Whole(validate=validate.Range(min=1, max=5))
    owner = Text(limit=120, allow_blank=False)
    mitigation = Text(allow_blank=False)
    status = _choice(RISK_STATUSES)


class IssueSchema(CommandSchema):
    """`raise_issue` kwargs."""

    title = Text(required=True, limit=200)
    description = Text(required=True)
    severity = _choice(SEVERITIES, required=True)
    owner = Text(required=True, limit=120)


class IssueEscalationSchema(CommandSchema):
    to = Text(required=True, limit=120)
    reason = Text(required=True)


class IssueResolutionSchema(CommandSchema):
    resolution = Text(required=True)


class StatusReportSchema(CommandSchema):
    """`publish_status_report` kwargs."""

    period_start = BusinessDate(required=True)
    period_end = BusinessDate(required=True)
    overall = _choice(RAG, required=True)
    schedule = _choice(RAG, required=True)
    budget = _choice(RAG, required=True)
    scope = _choice(RAG, required=True)
    summary = Text(required=True)

    @validates_schema
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            raise ValidationError("is before period_start", field_name="period_end")


# Queries -----------------------------------------------------------------------------------


class QuerySchema(Schema):
    """Unknown query parameters are refused, as unknown command fields are: a misspelt
    `?asof=` silently ignored would answer with today's figures for a past date."""

    class Meta:
        unknown = RAISE


class AsOfQuerySchema(QuerySchema):
    """A project as it stood at a UTC instant (or a date: its end) or at a log position."""

    as_of = fields.String(metadata={
        "description": "ISO 8601 instant (2025-03-01T12:00:00Z; no offset: UTC) or date (the "
                       "end of that UTC day)", "pattern": INSTANT_PATTERN})
    position = Whole(validate=validate.Range(min=1, max=MAX_POSITION),
                     metadata={"description": "a log position (the log starts at 1)"})

    @validates_schema
    def _one(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "as_of" in data and "position" in data:
            raise ValidationError("give as_of or position, not both", field_name="position")
        if "as_of" in data:
            parse_instant(data["as_of"])


class VarianceQuerySchema(QuerySchema):
    as_of = BusinessDate(metadata={"description": "business date; default today (UTC)"})


class EventsQuerySchema(QuerySchema):
    after = Whole(load_default=0, validate=validate.Range(min=0, max=MAX_POSITION),
                  metadata={"description": "return events after this log position"})
    limit = Whole(load_default=100, validate=validate.Range(min=1, max=1000))


class FindingsQuerySchema(QuerySchema):
    project = ProjectCode()


def parse_instant(value: str) -> Any:
    """An ISO instant (naive = UTC) or a date (the end of that UTC day), as an aware datetime."""
    from datetime import UTC, datetime, time

    text = value.strip()
    try:
        if not re.fullmatch(INSTANT_PATTERN, text):  # Python would also read 20250301 or 2025-W09
            raise ValueError(text)
        if len(text) == len("2025-03-01"):
            return datetime.combine(date.fromisoformat(text), time.max, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{value!r} is not an ISO 8601 instant or date",
                              field_name="as_of") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Responses ---------------------------------------------------------------------------------


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"example": "would-overdraw"})
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)


class ReceiptSchema(Schema):
    """What the log gave back for the event that recorded a write (ledger/receipts.py)."""

    position = fields.Integer(required=True)
    originator_id = fields.String(required=True)
    originator_version = fields.Integer(required=True)
    topic = fields.String(required=True)
    leaf_hash = fields.String(required=True, metadata={"description": "RFC 9162 leaf hash, hex"})
    chain_hash = fields.String(required=True, metadata={"description": "the chain head after it, hex"})
    recorded_at = fields.String(required=True, metadata={"description": "UTC, ISO 8601"})


class SubmittedSchema(Schema):
    """What a command returns: the item's id, its status, and the log position and
    receipt of the event that recorded it."""

    id = fields.String(required=True)
    status = fields.String(required=True)
    position = fields.Integer(allow_none=True, required=True)
    receipt = fields.Nested(ReceiptSchema, allow_none=True, required=True)


class VarianceSchema(Schema):
    """Earned-value figures: money as decimal strings, ratios as numbers or null."""

    project = fields.String()
    as_of = BusinessDate()
    bac = Money(sign="any")
    pv = Money(sign="any")
    ev = Money(sign="any")
    ac = Money(sign="any")
    cv = Money(sign="any")
    sv = Money(sign="any")
    cpi = fields.Float(allow_none=True)
    spi = fields.Float(allow_none=True)
    eac = Money(sign="any", allow_none=True)
    etc = Money(sign="any", allow_none=True)
    vac = Money(sign="any", allow_none=True)
    tcpi = fields.Float(allow_none=True)


class ProjectSummarySchema(Schema):
    """A portfolio row (read model): money as decimal strings, ratios as numbers or null."""

    project = fields.String()
    title = fields.String()
    currency = fields.String()
    status = fields.String()
    budget = Money(sign="any")
    committed = Money(sign="any")
    spent = Money(sign="any")
    available = Money(sign="any")
    percent_complete = fields.Float(allow_none=True)
    cpi = fields.Float(allow_none=True)
    spi = fields.Float(allow_none=True)
    rag = fields.String(allow_none=True)
    next_gate = fields.String(allow_none=True)
    as_of = BusinessDate()


class ProjectSchema(Schema):
    """A project as it stands (or stood: `as_of`), from its events. Money values inside
    the nested objects are decimal strings; dates ISO; instants UTC with Z."""

    code = fields.String()
    currency = fields.String()
    closed = fields.Boolean()
    version = fields.Integer()
    next_gate = fields.String(allow_none=True)
    charter = fields.Dict()
    totals = fields.Dict()
    gates = fields.Dict()
    deliverables = fields.Dict()
    lines = fields.Dict()
    milestones = fields.Dict()
    change_requests = fields.Dict()
    transfers = fields.Dict()
    commitments = fields.Dict()
    expenditures = fields.Dict()
    risks = fields.Dict()
    issues = fields.Dict()
    status_reports = fields.Dict()
    as_of = fields.Dict(allow_none=True, metadata={
        "description": "set when asked as of an instant or position: {position, recorded_at, "
                       "project_position}"})


class LineBudgetSchema(Schema):
    project = fields.String()
    line = fields.String()
    name = fields.String()
    category = fields.String()
    original = Money(sign="any")
    transferred = Money(sign="any")
    cr_adjusted = Money(sign="any")
    current = Money(sign="any")
    committed = Money(sign="any")
    spent = Money(sign="any")
    pending = Money(sign="any")
    available = Money(sign="any")


class QueueItemSchema(Schema):
    project = fields.String()
    kind = fields.String()
    item = fields.String()
    role = fields.String()
    summary = fields.String()
    amount = Money(sign="any", allow_none=True)
    submitted_by = fields.String(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    approvals = fields.Integer()
    position = fields.Integer()


class FindingSchema(Schema):
    rule_id = fields.String()
    severity = fields.String()
    project = fields.String(allow_none=True)
    message = fields.String()
    evidence = fields.List(fields.Integer(), metadata={
        "description": "log positions of the events that are the evidence"})


class FaultSchema(Schema):
    position = fields.Integer(allow_none=True)
    originator_id = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True)
    kind = fields.String()
    detail = fields.String()


class VerifyReportSchema(Schema):
    ok = fields.Boolean()
    events = fields.Integer()
    fault_count = fields.Integer()
    faults = fields.List(fields.Nested(FaultSchema))
    root = fields.String()
    head = fields.String()
    root_key_id = fields.String(allow_none=True)
    origin = fields.String(allow_none=True)
    checkpoints_checked = fields.Integer()
    seconds = fields.Float()
    workers = fields.Integer()


class VerifyJobSchema(Schema):
    """A verification run in the background (GET /api/v1/ledger/verify starts or joins one)."""

    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["running", "done", "failed"]),
                           metadata={"description": "running; done (the report is here); or "
                                                    "failed (see error; ask again to start another)"})
    size = fields.Integer(required=True, metadata={
        "description": "the log's size (its head position) the run verifies"})
    head = fields.String(required=True, metadata={"description": "the chain head hash there (hex)"})
    done = fields.Integer(required=True, metadata={"description": "events checked so far"})
    total = fields.Integer(required=True)
    percent = fields.Integer(required=True)
    started_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    ok = fields.Boolean(required=True, allow_none=True,
                        metadata={"description": "the report's verdict once done"})
    error = fields.String(required=True, allow_none=True)
    report = fields.Nested(VerifyReportSchema, required=True, allow_none=True)


class CheckpointSchema(Schema):
    note = fields.String(metadata={"description": "the C2SP signed note, verbatim"})
    origin = fields.String()
    size = fields.Integer()
    root = fields.String(metadata={"description": "Merkle root (hex)"})
    chain_head = fields.String(metadata={"description": "chain head hash (hex)"})
    time = fields.DateTime()


class CheckpointQuerySchema(QuerySchema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "text"]))


class EventSchema(Schema):
    position = fields.Integer()
    topic = fields.String(allow_none=True)
    originator_id = fields.String()
    originator_version = fields.Integer()
    key_id = fields.String(metadata={"description": "the signing key's id"})
    signer = fields.String(allow_none=True, metadata={"description": "the key's owner"})
    signature = fields.String(metadata={"description": "Ed25519 signature (hex)"})
    chain_hash = fields.String()
    payload = fields.Dict(allow_none=True, metadata={
        "description": "the signed canonical JSON payload, decoded"})


class EventsPageSchema(Schema):
    events = fields.List(fields.Nested(EventSchema))
    size = fields.Integer(metadata={"description": "the log's size now"})
    next_after = fields.Integer(allow_none=True, metadata={
        "description": "pass as `after` for the next page; null at the end"})
