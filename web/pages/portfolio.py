"""The portfolio: every project with RAG, budget, committed, spent, available, CPI, SPI and
the next gate, as of a business date (default today, UTC)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from domain.readmodels.views import EarnedValue, ProjectSummary
from web.auth import requires
from web.ledger_access import get_read_models
from web.pages.common import business_date

bp = Blueprint("portfolio", __name__)


@bp.get("/")
@requires("view")
def index() -> Any:
    models = get_read_models()
    as_of = business_date()
    summaries = models.portfolio(as_of)
    return render_template("portfolio.html", summaries=summaries, totals=_totals(summaries),
                           as_of=as_of)


def _totals(summaries: list[ProjectSummary]) -> dict[str, EarnedValue]:
    """`ReadModels.portfolio_earned_value` from the summaries already at hand: it would
    compute every project's earned value a second time (the page's largest cost)."""
    totals: dict[str, EarnedValue] = {}
    for s in summaries:
        c = s.facts.currency
        totals[c] = totals[c] + s.earned_value if c in totals else s.earned_value
    return totals
