"""Forms that act on one item of a project: the project manager's risk reassessment and
closure, issues (raise, escalate, resolve), change-request withdrawal; the sponsor's
milestone acceptance; the PMO lead's or sponsor's record that a gate's conditions are met.

They reuse the generic form view of web/pages/pm.py and the shared schemas: a refusal is
shown again with what was typed and field messages (422, or the domain's status), and
nothing is written.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, url_for

from domain.policy import GATES
from web import schemas as s
from web.auth import requires
from web.pages.pm import FormSpec, _project_or_404, _run

bp = Blueprint("items", __name__)

# form -> spec whose act is (pmo, actor, code, kwargs) with the item id bound by the view.
PM_ITEM_FORMS: dict[str, tuple[str, FormSpec]] = {
    "risk-update": ("risk", FormSpec(
        "Reassess risk {item}", s.RiskUpdateSchema,
        lambda pmo, a, code, item, d: pmo.update_risk(a, code, item, **d), "Risk {item} updated",
        intro="Fill in only what changes; the reason is required. Closing has its own form.")),
    "risk-close": ("risk", FormSpec(
        "Close risk {item}", s.ReasonSchema,
        lambda pmo, a, code, item, d: pmo.close_risk(a, code, item, **d), "Risk {item} closed")),
    "issue-escalate": ("issue", FormSpec(
        "Escalate issue {item}", s.IssueEscalationSchema,
        lambda pmo, a, code, item, d: pmo.escalate_issue(a, code, item, **d),
        "Issue {item} escalated to {to}")),
    "issue-resolve": ("issue", FormSpec(
        "Resolve issue {item}", s.IssueResolutionSchema,
        lambda pmo, a, code, item, d: pmo.resolve_issue(a, code, item, **d), "Issue {item} resolved")),
    "cr-withdraw": ("change request", FormSpec(
        "Withdraw change request {item}", s.ReasonSchema,
        lambda pmo, a, code, item, d: pmo.withdraw_change_request(a, code, item, **d),
        "Change request {item} withdrawn")),
}


def _item_form(spec: FormSpec, code: str, item: str) -> Any:
    _project_or_404(code)
    title = spec.title.format(item=item)
    return _run(spec, code, title=f"{title} · {code}",
                act=lambda pmo, a, d: spec.act(pmo, a, code, item, d),  # type: ignore[call-arg]
                done=spec.done.replace("{item}", item),
                redirect_to=lambda d, _: url_for("projects.show", code=code))


@bp.route("/projects/<code>/issues/new", methods=["GET", "POST"])
@requires("pm")
def raise_issue(code: str) -> Any:
    _project_or_404(code)
    spec = FormSpec("Raise an issue", s.IssueSchema, lambda *_: None, "")
    return _run(spec, code, title=f"{spec.title} · {code}",
                act=lambda pmo, a, d: pmo.raise_issue(a, code, **d), done="Issue {result} recorded",
                redirect_to=lambda d, _: url_for("projects.show", code=code))


@bp.route("/projects/<code>/items/<form>/<item>", methods=["GET", "POST"])
@requires("pm")
def pm_item(code: str, form: str, item: str) -> Any:
    entry = PM_ITEM_FORMS.get(form)
    if entry is None:
        abort(404)
    return _item_form(entry[1], code, item)


_ACCEPT = FormSpec("Accept milestone {item}", s.MilestoneAcceptanceSchema,
                   lambda pmo, a, code, item, d: pmo.accept_milestone(a, code, item, **d),
                   "Milestone {item} accepted", intro="UAT sign-off of a milestone reported 100% complete.")
_CONDITIONS = FormSpec("Record conditions of {item} as met", s.GateConditionsMetSchema,
                       lambda pmo, a, code, item, d: pmo.record_gate_conditions_met(a, code, item, **d),
                       "Conditions of {item} recorded as met",
                       intro="Name each condition exactly as it was set, one per line, and say how it was met.")


@bp.route("/projects/<code>/milestones/<milestone>/accept", methods=["GET", "POST"])
@requires("accept")
def accept_milestone(code: str, milestone: str) -> Any:
    return _item_form(_ACCEPT, code, milestone)


@bp.route("/projects/<code>/gates/<gate>/conditions-met", methods=["GET", "POST"])
@requires("gate-conditions")
def gate_conditions_met(code: str, gate: str) -> Any:
    if gate not in GATES:
        abort(404)
    return _item_form(_CONDITIONS, code, gate)
