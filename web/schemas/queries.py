"""Query strings: what a GET may ask for."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from web.schemas.values import INSTANT_PATTERN, MAX_POSITION, BusinessDate, ProjectCode, Whole

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



class CheckpointQuerySchema(QuerySchema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "text"]))
