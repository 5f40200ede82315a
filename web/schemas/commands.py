"""One schema per command: its input, as the API and the forms take it."""

from __future__ import annotations

from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from domain import validate as domain_validate
from domain.common import ROLES
from domain.policy import GATES
from domain.project import CATEGORIES, DECISIONS, RAG, RISK_STATUSES, SEVERITIES
from domain.services import MAX_TOKEN_DAYS, TOKEN_DAYS
from domain.validate import MAX_ITEMS
from web.schemas.values import (
    NONBLANK_PATTERN,
    SHA256_PATTERN,
    BusinessDate,
    Code,
    CommandSchema,
    Flag,
    Lines,
    Money,
    ProjectCode,
    Text,
    Whole,
    choice,
)

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
    category = choice(CATEGORIES, required=True)
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

    role = choice(ROLES, required=True)
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
    category = choice(CATEGORIES, metadata={"description": "for a new line"})


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

    decision = choice(DECISIONS, required=True)
    conditions = Text(load_default="")
    reason = Text(load_default="")
    as_role = choice(("fiscal", "sponsor", "pmo"), load_default=None, allow_none=True)

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
    status = choice(RISK_STATUSES)


class IssueSchema(CommandSchema):
    """`raise_issue` kwargs."""

    title = Text(required=True, limit=200)
    description = Text(required=True)
    severity = choice(SEVERITIES, required=True)
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
    overall = choice(RAG, required=True)
    schedule = choice(RAG, required=True)
    budget = choice(RAG, required=True)
    scope = choice(RAG, required=True)
    summary = Text(required=True)

    @validates_schema
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            raise ValidationError("is before period_start", field_name="period_end")
