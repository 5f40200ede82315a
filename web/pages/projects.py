"""A project's page: charter, gate timeline, budget by line, the S-curve and budget
charts, milestones, risks, the items awaiting decisions, and recent events with their
signer and signature status."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from domain.policy import GATE_NAMES, GATES
from web.auth import requires
from web.ledger_access import get_aggregates, get_pmo, get_read_models
from web.pages import charts
from web.pages.common import business_date
from web.pages.events import log_rows, signature_status

bp = Blueprint("projects", __name__)
RECENT = 15


@bp.get("/projects/<code>")
@requires("view")
def show(code: str) -> Any:
    pmo, models = get_pmo(), get_read_models()
    as_of = business_date()
    # One view: the log caught up with once, the plans read once for summary and S-curve.
    with models.one_view():
        summary = models.summary(code, as_of)  # NotFoundError -> 404 page
        project = get_aggregates().project(code)
        lines = models.budget(code)
        points = models.s_curve(code)
        recent = log_rows(models, project=code, limit=RECENT)
    signatures = signature_status(pmo, [r.position for r in recent])
    return render_template(
        "project.html", code=code, project=project, summary=summary, facts=summary.facts,
        ev=summary.earned_value.shown(), lines=lines, as_of=as_of, gates=GATES,
        gate_names=GATE_NAMES, recent=recent, signatures=signatures,
        s_curve=charts.s_curve(points, project.currency),
        budget_chart=charts.budget_by_line(lines, project.currency) if lines else None,
        pending_crs=_pending(project.change_requests), pending=_pending(project.expenditures),
    )


def _pending(items: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The items awaiting a decision, in recording order (a busy project has thousands of
    expenditures: picked here, not by a template filter, several times faster)."""
    return [(k, item) for k, item in items.items() if item.get("status") == "pending"]
