"""/api/v1/projects: charter, baseline, money, gates, risks, status -- and reading them.

Every command answers `{id, status, position}`: the item's id, its status after the
command, and the log position of the event that recorded it. Who may act is the domain's
decision (a role it refuses is a 403 `forbidden`); reading a project needs any role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.views import MethodView
from werkzeug.routing import BaseConverter

from domain.policy import GATES
from domain.project import Project
from web import schemas as s
from web.api.common import (
    current_actor,
    event_receipt,
    jsonable,
    pmo,
    ratio,
    require_reader,
)
from web.api.parsing import Blueprint
from web.ledger_access import get_aggregates, get_read_models

blp = Blueprint("api_projects", __name__, url_prefix="/api/v1/projects",
                description="Projects: charter, baseline, expenditures, approvals, gates")


class GateConverter(BaseConverter):
    """A gate in a URL (`<gate:gate>`): documented as one of the policy's gates; any other
    segment still reaches the view, whose domain call refuses it (422 naming `gate`)."""

    @staticmethod
    def openapi(_converter: BaseConverter) -> dict[str, Any]:
        return {"type": "string", "enum": list(GATES)}


# What a command may answer besides its success: 400 a body that is not JSON, 415 a body
# of another media type (web/api/parsing.py), 422 a body its schema refuses, and the
# domain's refusals.
ERRORS = (400, 401, 403, 404, 409, 415, 422)


def _errors(*statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        for status in statuses or ERRORS:
            view = blp.alt_response(status, schema=s.ErrorSchema, description="refused")(view)
        return view
    return wrap


def submitted(code: str, item: str, status: str, match: dict[str, Any],
              topics: tuple[str, ...] = ()) -> dict[str, Any]:
    receipt = event_receipt(code, match, topics)
    return {"id": item, "status": status, "position": receipt.position if receipt else None,
            "receipt": receipt.as_dict() if receipt else None}


def project_view(p: Project, as_of: dict[str, Any] | None = None) -> dict[str, Any]:
    lines = {k: {**v, "available": v["budget"] - v["spent"] - v["committed"]}
             for k, v in p.lines.items()}
    return jsonable({
        "code": p.code, "currency": p.currency, "closed": p.closed, "version": p.version,
        "next_gate": p.next_gate, "charter": p.charter, "totals": p.totals(), "gates": p.gates,
        "deliverables": p.deliverables, "lines": lines, "milestones": p.milestones,
        "change_requests": p.change_requests, "transfers": p.transfers,
        "commitments": p.commitments, "expenditures": p.expenditures, "risks": p.risks,
        "issues": p.issues, "status_reports": p.status_reports, "as_of": as_of,
    })


# Projects -----------------------------------------------------------------------------------


@blp.route("")
class Projects(MethodView):
    @_errors(401, 403)
    @blp.response(200, s.ProjectSummarySchema(many=True))
    def get(self) -> Any:
        """The portfolio: every project with budget, committed, spent, available, CPI, SPI, RAG"""
        require_reader()
        return [summary.shown() for summary in get_read_models().portfolio()]

    @_errors()
    @blp.arguments(s.CharterSchema)
    @blp.response(201, s.SubmittedSchema)
    def post(self, charter: dict[str, Any]) -> Any:
        """Charter a project (PM)"""
        code = charter["code"]
        pmo().charter_project(current_actor(), **charter)
        return submitted(code, code, "chartered", {}, ("Project.Chartered",))


@blp.route("/<code>")
class ProjectItem(MethodView):
    @_errors(401, 403, 404, 422)
    @blp.arguments(s.AsOfQuerySchema, location="query")
    @blp.response(200, s.ProjectSchema)
    def get(self, query: dict[str, Any], code: str) -> Any:
        """A project as it stands, or as it stood at a UTC instant (`as_of`) or log `position`"""
        require_reader(code)
        if "as_of" not in query and "position" not in query:
            return project_view(get_aggregates().project(code))
        instant = s.parse_instant(query["as_of"]) if "as_of" in query else None
        replay = get_read_models().replay(code, position=query.get("position"), instant=instant)
        return project_view(replay.project, {
            "position": replay.position, "recorded_at": replay.recorded_at,
            "project_position": replay.project_position})


@blp.route("/<code>/variance")
@_errors(401, 403, 404, 422)
@blp.arguments(s.VarianceQuerySchema, location="query")
@blp.response(200, s.VarianceSchema)
def variance(query: dict[str, Any], code: str) -> Any:
    """Earned value as of a business date: BAC, PV, EV, AC, CV, SV, CPI, SPI, EAC, ETC, VAC, TCPI"""
    require_reader(code)
    shown = get_read_models().earned_value(code, query.get("as_of")).shown()
    for key in ("cpi", "spi", "tcpi", "percent_complete"):
        shown[key] = ratio(shown[key])
    return {"project": code, **shown}


@blp.route("/<code>/budget")
@_errors(401, 403, 404)
@blp.response(200, s.LineBudgetSchema(many=True))
def budget(code: str) -> Any:
    """Budget by line: original, transfers, change-request adjustments, current, committed,
    spent, pending, available"""
    require_reader(code)
    return get_read_models().budget(code)


@blp.route("/<code>/amendments", methods=["POST"])
@_errors()
@blp.arguments(s.AmendCharterSchema)
@blp.response(201, s.SubmittedSchema)
def amend(amendment: dict[str, Any], code: str) -> Any:
    """Amend the charter, with a reason (PM)"""
    pmo().amend_charter(current_actor(), code, amendment["changes"], reason=amendment["reason"])
    return submitted(code, code, "amended", {}, ("CharterAmended",))


# Baseline ------------------------------------------------------------------------------------


@blp.route("/<code>/budget-lines", methods=["POST"])
@_errors()
@blp.arguments(s.BudgetLineSchema)
@blp.response(201, s.SubmittedSchema)
def add_budget_line(line: dict[str, Any], code: str) -> Any:
    """Add a budget line to the baseline (PM, before G1 passes)"""
    pmo().add_budget_line(current_actor(), code, **line)
    return submitted(code, line["line"], "added", {"line": line["line"]}, ("BudgetLineAdded",))


@blp.route("/<code>/milestones", methods=["POST"])
@_errors()
@blp.arguments(s.MilestoneSchema)
@blp.response(201, s.SubmittedSchema)
def add_milestone(milestone: dict[str, Any], code: str) -> Any:
    """Add a milestone / work package to the baseline (PM, before G1 passes)"""
    pmo().add_milestone(current_actor(), code, **milestone)
    key = milestone["milestone"]
    return submitted(code, key, "added", {"milestone": key}, ("MilestoneAdded",))


@blp.route("/<code>/milestones/<milestone>/acceptance", methods=["POST"])
@_errors()
@blp.arguments(s.MilestoneAcceptanceSchema)
@blp.response(201, s.SubmittedSchema)
def accept_milestone(acceptance: dict[str, Any], code: str, milestone: str) -> Any:
    """UAT sign-off of a milestone reported 100% complete (sponsor)"""
    pmo().accept_milestone(current_actor(), code, milestone, **acceptance)
    return submitted(code, milestone, "accepted", {"milestone": milestone}, ("MilestoneAccepted",))


@blp.route("/<code>/deliverables", methods=["POST"])
@_errors()
@blp.arguments(s.DeliverableSchema)
@blp.response(201, s.SubmittedSchema)
def add_deliverable(deliverable: dict[str, Any], code: str) -> Any:
    """Add a deliverable to the baseline (PM, before G1 passes)"""
    pmo().add_deliverable(current_actor(), code, **deliverable)
    key = deliverable["deliverable"]
    return submitted(code, key, "added", {"deliverable": key}, ("DeliverableAdded",))


@blp.route("/<code>/progress", methods=["POST"])
@_errors()
@blp.arguments(s.ProgressSchema)
@blp.response(201, s.SubmittedSchema)
def report_progress(progress: dict[str, Any], code: str) -> Any:
    """Report a milestone's percent complete as of a business date (PM)"""
    pmo().report_progress(current_actor(), code, **progress)
    key = progress["milestone"]
    return submitted(code, key, "reported", {"milestone": key}, ("ProgressReported",))


# Items submitted, then decided: expenditures, commitments, transfers, change requests, ...


def _status(item: dict[str, Any]) -> str:
    return str(item.get("status", "recorded"))


def _register_kind(path: str, key: str, noun: str, getter: str, schema: type, submit: str,
                   id_from: str | None, decisions: dict[str, tuple[type, str, str]],
                   submit_doc: str) -> None:
    """POST /<code>/<path> submits; POST /<code>/<path>/<id>/<decision> decides."""
    endpoint = path.replace("-", "_")

    @_errors()
    @blp.arguments(schema)
    @blp.response(201, s.SubmittedSchema)
    def create(data: dict[str, Any], code: str) -> Any:
        app = pmo()
        result = getattr(app, submit)(current_actor(), code, **data)
        item = data[id_from] if id_from else result
        status = _status(getattr(get_aggregates().project(code), getter)(item))
        return submitted(code, item, status, {key: item})

    create.__doc__ = submit_doc
    blp.route(f"/<code>/{path}", methods=["POST"], endpoint=f"submit_{endpoint}")(create)

    for decision, (decision_schema, method, doc) in decisions.items():
        _register_decision(path, endpoint, key, getter, decision, decision_schema, method, doc)


def _needs_body(schema: type) -> bool:
    """A decision whose fields are all optional (an approval) may be sent without a body."""
    return any(f.required for f in schema().fields.values())


def _register_decision(path: str, endpoint: str, key: str, getter: str, decision: str,
                       schema: type, method: str, doc: str) -> None:
    @_errors()
    @blp.arguments(schema, required=_needs_body(schema))
    @blp.response(200, s.SubmittedSchema)
    def decide(data: dict[str, Any], code: str, item: str) -> Any:
        app = pmo()
        getattr(app, method)(current_actor(), code, item, **data)
        status = _status(getattr(get_aggregates().project(code), getter)(item))
        return submitted(code, item, status, {key: item})

    decide.__doc__ = doc
    blp.route(f"/<code>/{path}/<item>/{decision}", methods=["POST"],
              endpoint=f"{decision}_{endpoint}")(decide)


_register_kind(
    "expenditures", "expenditure_id", "expenditure", "expenditure", s.ExpenditureSchema,
    "submit_expenditure", None, {
        "approve": (s.ApprovalSchema, "approve_expenditure",
                    "Approve an expenditure (fiscal; over the thresholds a second fiscal "
                    "officer, then the sponsor); refused if it would overdraw the line"),
        "reject": (s.ReasonSchema, "reject_expenditure", "Reject a pending expenditure, with a reason"),
        "reverse": (s.ReasonSchema, "reverse_expenditure",
                    "Reverse an approved expenditure (fiscal), with a reason"),
    }, "Submit an expenditure (PM): an invoice against a budget line")
_register_kind(
    "commitments", "po_number", "commitment", "commitment", s.CommitmentSchema,
    "submit_commitment", "po_number", {
        "approve": (s.ApprovalSchema, "approve_commitment",
                    "Approve a purchase order (fiscal; over the thresholds a second fiscal "
                    "officer, then the sponsor)"),
        "reject": (s.ReasonSchema, "reject_commitment", "Reject a pending purchase order"),
        "close": (s.ReasonSchema, "close_commitment",
                  "Close an open purchase order as complete (PM or fiscal)"),
        "release": (s.ReasonSchema, "release_commitment",
                    "Cancel an open purchase order, releasing its encumbrance (fiscal)"),
    }, "Submit a purchase order / encumbrance (PM)")
_register_kind(
    "transfers", "transfer_id", "budget transfer", "transfer", s.TransferSchema,
    "request_budget_transfer", None, {
        "approve": (s.ApprovalSchema, "approve_budget_transfer",
                    "Approve a budget transfer (fiscal; two over the dual threshold, then the sponsor over the sponsor threshold); refused beyond the source's available"),
        "reject": (s.ReasonSchema, "reject_budget_transfer", "Reject a pending budget transfer"),
    }, "Request a budget transfer between two lines (PM)")
_register_kind(
    "change-requests", "cr_id", "change request", "change_request", s.ChangeRequestSchema,
    "submit_change_request", None, {
        "approve": (s.ApprovalSchema, "approve_change_request",
                    "Approve a change request (the policy's change approver, default the "
                    "sponsor): its impacts apply to the baseline"),
        "reject": (s.ReasonSchema, "reject_change_request", "Reject a pending change request"),
        "withdraw": (s.ReasonSchema, "withdraw_change_request",
                     "Withdraw a pending change request (PM)"),
    }, "Submit a change request with cost, schedule and scope impacts (PM)")
_register_kind(
    "risks", "risk_id", "risk", "risk", s.RiskSchema, "raise_risk", None, {
        "updates": (s.RiskUpdateSchema, "update_risk",
                    "Reassess a risk: probability, impact, owner, mitigation, status (PM)"),
        "close": (s.ReasonSchema, "close_risk", "Close a risk that no longer applies (PM)"),
    }, "Record a risk: probability and impact 1..5, owner, mitigation (PM)")
_register_kind(
    "issues", "issue_id", "issue", "issue", s.IssueSchema, "raise_issue", None, {
        "escalate": (s.IssueEscalationSchema, "escalate_issue", "Escalate an open issue (PM)"),
        "resolve": (s.IssueResolutionSchema, "resolve_issue", "Resolve an issue, saying how (PM)"),
    }, "Record an issue (PM)")


@blp.route("/<code>/status-reports", methods=["POST"])
@_errors()
@blp.arguments(s.StatusReportSchema)
@blp.response(201, s.SubmittedSchema)
def publish_status_report(report: dict[str, Any], code: str) -> Any:
    """Publish a status report (PM); the variance figures at period end are stored with it"""
    report_id = pmo().publish_status_report(current_actor(), code, **report)
    return submitted(code, report_id, "published", {"report_id": report_id})


# Gates ---------------------------------------------------------------------------------------


def _gate_result(code: str, gate: str) -> dict[str, Any]:
    state = get_aggregates().project(code).gate(gate)
    return submitted(code, gate, state["status"], {"gate": gate})


@blp.route("/<code>/gates/<gate:gate>/reviews", methods=["POST"])
@_errors()
@blp.arguments(s.GateReviewSchema)
@blp.response(201, s.SubmittedSchema)
def request_gate_review(review: dict[str, Any], code: str, gate: str) -> Any:
    """Request a gate review with artifacts (PM); the previous gate must have passed"""
    pmo().request_gate_review(current_actor(), code, gate, **review)
    return _gate_result(code, gate)


@blp.route("/<code>/gates/<gate:gate>/signoffs", methods=["POST"])
@_errors()
@blp.arguments(s.GateSignoffSchema)
@blp.response(201, s.SubmittedSchema)
def sign_off_gate(signoff: dict[str, Any], code: str, gate: str) -> Any:
    """Sign off a gate under review in a role the policy requires (sponsor, PMO, fiscal)"""
    pmo().sign_off_gate(current_actor(), code, gate, **signoff)
    return _gate_result(code, gate)


@blp.route("/<code>/gates/<gate:gate>/conditions-met", methods=["POST"])
@_errors()
@blp.arguments(s.GateConditionsMetSchema)
@blp.response(201, s.SubmittedSchema)
def gate_conditions_met(met: dict[str, Any], code: str, gate: str) -> Any:
    """Record conditions a gate passed with as met (PMO lead or sponsor)"""
    pmo().record_gate_conditions_met(current_actor(), code, gate, **met)
    return _gate_result(code, gate)
