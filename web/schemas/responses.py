"""What the API answers with (documented in the OpenAPI document)."""

from __future__ import annotations

from marshmallow import (
    Schema,
    fields,
    validate,
)

from web.schemas.values import BusinessDate, Money

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
