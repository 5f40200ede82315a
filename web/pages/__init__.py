"""The server-rendered pages: one blueprint per area, and what they share (filters, the
signed-in person in every template, error pages).

    portfolio  /                          every project: RAG, budget, committed, spent, CPI...
    projects   /projects/<code>           charter, gates, lines, S-curve, risks, recent events
    pm         /projects/<code>/...       the project manager's forms
    queues     /queues/<role>             fiscal, sponsor and PMO review queues; decisions
    audit      /audit/...                 the auditor's console
    reports    /reports/...               variance and budget reports, CSV
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Flask, Response, render_template
from flask_wtf.csrf import CSRFError

from domain.errors import DomainError
from web.auth import current_user, may
from web.errors import register_error_handlers

CENT = Decimal("0.01")
STATUS = {  # domain error code -> HTTP status of the page that shows it
    "validation": 422, "not-found": 404, "duplicate": 409, "conflict": 409,
    "not-authorised": 403, "segregation-of-duties": 403,
}


def status_of(error: DomainError) -> int:
    return STATUS.get(error.code, 422)


def money(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return f"{Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


def ratio(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{Decimal(value).quantize(Decimal('0.001'), rounding=ROUND_HALF_UP)}"


def instant(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def render_error_html(status: int, body: dict[str, Any], error: BaseException | None = None) -> Response:
    """An error page for people (`web.errors` answers /api/ with JSON instead)."""
    if isinstance(error, CSRFError):
        body = {**body, "code": "csrf", "message": "The form's security token is missing or "
                "expired. Reload the page and submit it again; nothing was recorded."}
    html = render_template("error.html", status=status, code=body.get("code", "error"),
                           message=body.get("message", ""), errors=body.get("errors") or {})
    return Response(html, status=status, mimetype="text/html")


def install(app: Flask) -> None:
    app.jinja_env.filters.update(money=money, ratio=ratio, instant=instant)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _who() -> dict[str, Any]:
        try:
            user = current_user()
        except Exception:  # noqa: BLE001 - an error page must render even when the ledger is down
            user = None
        return {"user": user, "may": may}

    register_error_handlers(app, render_html=render_error_html)
