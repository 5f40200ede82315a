"""The project manager's forms: charter, amendment, change request, budget line,
milestone, transfer request, commitment, expenditure (with the invoice file, whose SHA-256
is recorded), progress, risk, status report and gate review request.

Every form is loaded through its shared schema (web/schemas/commands.py). A refused form — by the
schema or by the domain — is shown again with what the user typed and a message by each
field, status 422 (403 for a refusal of who is acting, 409 for a duplicate); nothing is
written then. Success redirects to the project page with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from marshmallow import Schema

from domain.errors import DomainError
from domain.policy import GATE_NAMES, GATES
from web import schemas as s
from web.auth import requires
from web.forms import (
    ChangeRequestFormSchema,
    FormErrors,
    GateReviewFormSchema,
    load,
    raw_values,
    sha256_of_upload,
    widgets,
)
from web.idempotency import recorded_at
from web.ledger_access import get_pmo, get_read_models
from web.pages import status_of
from web.pages.common import acting

bp = Blueprint("pm", __name__)


@dataclass(frozen=True)
class FormSpec:
    title: str
    schema: Callable[[], Schema]
    act: Callable[[Any, Any, str, dict[str, Any]], Any]  # (pmo, actor, code, kwargs) -> result
    done: str  # flash message; {result} and the loaded fields may be used
    intro: str = ""
    files: tuple[tuple[str, str], ...] = ()
    hidden: tuple[str, ...] = ()


FORMS: dict[str, FormSpec] = {
    "amendment": FormSpec(
        "Amend the charter", s.AmendCharterSchema,
        lambda pmo, a, code, d: pmo.amend_charter(a, code, **d), "Charter amended",
        intro="Fill in only the fields that change; the reason is required."),
    "budget-line": FormSpec(
        "Add a budget line", s.BudgetLineSchema,
        lambda pmo, a, code, d: pmo.add_budget_line(a, code, **d), "Budget line {line} added",
        intro="Before G1 (planning) passes; afterwards the baseline changes by change request."),
    "milestone": FormSpec(
        "Add a milestone", s.MilestoneSchema,
        lambda pmo, a, code, d: pmo.add_milestone(a, code, **d), "Milestone {milestone} added"),
    "deliverable": FormSpec(
        "Add a deliverable", s.DeliverableSchema,
        lambda pmo, a, code, d: pmo.add_deliverable(a, code, **d), "Deliverable {deliverable} added"),
    "change-request": FormSpec(
        "Submit a change request", ChangeRequestFormSchema,
        lambda pmo, a, code, d: pmo.submit_change_request(a, code, **d),
        "Change request {result} submitted for approval"),
    "transfer": FormSpec(
        "Request a budget transfer", s.TransferSchema,
        lambda pmo, a, code, d: pmo.request_budget_transfer(a, code, **d),
        "Transfer {result} requested: fiscal approval needed"),
    "commitment": FormSpec(
        "Submit a commitment (purchase order)", s.CommitmentSchema,
        lambda pmo, a, code, d: pmo.submit_commitment(a, code, **d),
        "Purchase order {result} submitted for approval"),
    "expenditure": FormSpec(
        "Submit an expenditure", s.ExpenditureSchema,
        lambda pmo, a, code, d: pmo.submit_expenditure(a, code, **d),
        "Expenditure {result} submitted for approval",
        intro="Attach the invoice: its SHA-256 is recorded in the signed event.",
        files=(("invoice", "Invoice document"),), hidden=("document_sha256",)),
    "progress": FormSpec(
        "Report progress", s.ProgressSchema,
        lambda pmo, a, code, d: pmo.report_progress(a, code, **d),
        "Progress of {milestone} reported: {percent}% as of {as_of}"),
    "risk": FormSpec(
        "Raise a risk", s.RiskSchema,
        lambda pmo, a, code, d: pmo.raise_risk(a, code, **d), "Risk {result} recorded",
        intro="Probability and impact from 1 (low) to 5 (high)."),
    "status-report": FormSpec(
        "Publish a status report", s.StatusReportSchema,
        lambda pmo, a, code, d: pmo.publish_status_report(a, code, **d),
        "Status report {result} published"),
}


def _run(spec: FormSpec, code: str | None, *, title: str, extra: dict[str, Any] | None = None,
         act: Callable[[Any, Any, dict[str, Any]], Any], done: str,
         redirect_to: Callable[[dict[str, Any], Any], str]) -> Any:
    """GET: the empty form. POST: load, act, redirect; or show it again with messages."""
    schema = spec.schema()
    fields = widgets(schema, files=spec.files, hidden=spec.hidden)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        try:
            data = load(schema, extra=extra)
            result = act(get_pmo(), acting(), data)
            flash(done.format(result=result, **data) + recorded_at(), "ok")
            return redirect(redirect_to(data, result))
        except FormErrors as e:
            values, errors, status = e.values, e.errors, 422
        except DomainError as e:
            values = raw_values(schema)
            errors = {e.field or "_schema": [e.message]}
            if e.field and e.field not in schema.fields:
                errors = {"_schema": [e.message]}
            status = status_of(e)
    return render_template("form.html", title=title, intro=spec.intro, fields=fields,
                           values=values, errors=errors, code=code,
                           multipart=bool(spec.files)), status


def _project_or_404(code: str) -> None:
    get_read_models().summary(code)  # NotFoundError -> 404


@bp.route("/projects/new", methods=["GET", "POST"])
@requires("pm")
def charter() -> Any:
    spec = FormSpec("Charter a project", s.CharterSchema, lambda *_: None, "")
    return _run(spec, None, title=spec.title,
                act=lambda pmo, a, d: pmo.charter_project(a, **d),
                done="Project {code} chartered",
                redirect_to=lambda d, _: url_for("projects.show", code=d["code"]))


@bp.route("/projects/<code>/act/<form>", methods=["GET", "POST"])
@requires("pm")
def act(code: str, form: str) -> Any:
    spec = FORMS.get(form)
    if spec is None:
        abort(404)
    _project_or_404(code)
    extra = None
    if spec.files and request.method == "POST":
        digest = sha256_of_upload(spec.files[0][0])
        extra = {"document_sha256": digest} if digest else None
    return _run(spec, code, title=f"{spec.title} · {code}", extra=extra,
                act=lambda pmo, a, d: spec.act(pmo, a, code, d), done=spec.done,
                redirect_to=lambda d, _: url_for("projects.show", code=code))


@bp.route("/projects/<code>/gates/<gate>/review", methods=["GET", "POST"])
@requires("pm")
def gate_review(code: str, gate: str) -> Any:
    if gate not in GATES:
        abort(404)
    _project_or_404(code)
    spec = FormSpec(f"Request the {gate} ({GATE_NAMES[gate]}) review", GateReviewFormSchema,
                    lambda *_: None, "")
    return _run(spec, code, title=f"{spec.title} · {code}",
                act=lambda pmo, a, d: pmo.request_gate_review(a, code, gate, **d),
                done=f"{gate} review requested",
                redirect_to=lambda d, _: url_for("projects.show", code=code))
