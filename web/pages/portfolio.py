"""The portfolio: every project with RAG, budget, committed, spent, available, CPI, SPI and
the next gate, as of a business date (default today, UTC)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

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
    return render_template("portfolio.html", summaries=summaries,
                           totals=models.portfolio_earned_value(as_of, summaries), as_of=as_of)
