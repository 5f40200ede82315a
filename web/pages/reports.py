"""Reports: earned-value variance per project (and the portfolio), budget by line; each
as a page and as CSV (money rounded half-up to cents, ratios to three places, "not
available" left empty)."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Response, render_template, request

from domain.readmodels.views import cents
from web.auth import requires
from web.csv_safe import csv_writer, safe_cell
from web.ledger_access import get_read_models
from web.pages.common import business_date

bp = Blueprint("reports", __name__, url_prefix="/reports")

VARIANCE = ("project", "title", "currency", "as_of", "bac", "pv", "ev", "ac", "cv", "sv", "cpi",
            "spi", "eac", "etc", "vac", "tcpi", "percent_complete", "rag")
BUDGET = ("project", "line", "name", "category", "original", "transferred", "cr_adjusted",
          "current", "committed", "spent", "pending", "available")


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...], filename: str) -> Response:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow("" if row.get(c) is None else safe_cell(str(row[c])) for c in columns)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/variance")
@requires("reports")
def variance() -> Any:
    models = get_read_models()
    as_of = business_date()
    rows = []
    summaries = models.portfolio(as_of)
    for s in summaries:
        shown = s.earned_value.shown()
        rows.append({"project": s.facts.project, "title": s.facts.title,
                     "currency": s.facts.currency, **shown, "rag": s.rag})
    if request.args.get("format") == "csv":
        return _csv(rows, VARIANCE, f"variance-{as_of.isoformat()}.csv")
    totals = {c: t.shown() for c, t in models.portfolio_earned_value(as_of, summaries).items()}
    return render_template("reports/variance.html", rows=rows, totals=totals, as_of=as_of)


@bp.get("/budget")
@requires("reports")
def budget() -> Any:
    models = get_read_models()
    project = (request.args.get("project") or "").strip() or None
    lines = models.budget(project)
    rows = [{"project": b.project, "line": b.line, "name": b.name, "category": b.category,
             **{k: cents(getattr(b, k)) for k in BUDGET[4:]}} for b in lines]
    if request.args.get("format") == "csv":
        return _csv(rows, BUDGET, f"budget-{project or 'portfolio'}.csv")
    projects = [f.project for f in models.facts()]
    return render_template("reports/budget.html", rows=rows, project=project, projects=projects)
