"""Review queues: the fiscal officer's (expenditures, commitments, transfers), the
sponsor's and the PMO lead's (change requests, gate sign-offs, and over the thresholds
expenditures and commitments). Each item shows what a reviewer needs — amount, the line's
available balance before and after, the vendor's history on the project — and an
approve / reject form with a reason. A decision is signed with the reviewer's key; the
receipt page shows the signature manifestation (printed name, UTC time, meaning).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from domain.errors import DomainError
from domain.money import ZERO
from web import schemas as s
from web.auth import current_user, login_required, require_queue_role
from web.forms import FormErrors, load
from web.idempotency import appended_receipts
from web.ledger_access import get_aggregates, get_pmo, get_read_models
from web.pages import status_of
from web.pages.common import acting
from web.pages.events import log_rows, payload
from web.schemas import MAX_POSITION

bp = Blueprint("queues", __name__)

KINDS = ("expenditure", "commitment", "transfer", "change-request", "gate-signoff")
TITLES = {"fiscal": "Fiscal review queue", "sponsor": "Sponsor review queue", "pmo": "PMO review queue"}

# kind -> decision -> (schema, command(pmo, actor, code, item, role, kwargs))
Command = Callable[[Any, Any, str, str, str, dict[str, Any]], None]
DECISIONS: dict[str, dict[str, tuple[type, Command]]] = {
    "expenditure": {
        "approve": (s.ApprovalSchema, lambda p, a, c, i, r, d: p.approve_expenditure(a, c, i, **d)),
        "reject": (s.ReasonSchema, lambda p, a, c, i, r, d: p.reject_expenditure(a, c, i, **d)),
    },
    "commitment": {
        "approve": (s.ApprovalSchema, lambda p, a, c, i, r, d: p.approve_commitment(a, c, i, **d)),
        "reject": (s.ReasonSchema, lambda p, a, c, i, r, d: p.reject_commitment(a, c, i, **d)),
    },
    "transfer": {
        "approve": (s.ApprovalSchema, lambda p, a, c, i, r, d: p.approve_budget_transfer(a, c, i, **d)),
        "reject": (s.ReasonSchema, lambda p, a, c, i, r, d: p.reject_budget_transfer(a, c, i, **d)),
    },
    "change-request": {
        "approve": (s.ApprovalSchema, lambda p, a, c, i, r, d: p.approve_change_request(a, c, i, **d)),
        "reject": (s.ReasonSchema, lambda p, a, c, i, r, d: p.reject_change_request(a, c, i, **d)),
    },
    "gate-signoff": {
        "sign": (s.GateSignoffSchema, lambda p, a, c, i, r, d: p.sign_off_gate(
            a, c, i, **{**d, "as_role": d.get("as_role") or r})),
    },
}


def _by_vendor(project: Any) -> dict[Any, list[tuple[str, dict[str, Any]]]]:
    """The project's expenditures by vendor, in recording order: built once per page and
    project, rather than scanning every expenditure again for each item in the queue."""
    index: dict[Any, list[tuple[str, dict[str, Any]]]] = {}
    for k, e in project.expenditures.items():
        index.setdefault(e["vendor"], []).append((k, e))
    return index


def _detail(project: Any, kind: str, item: str,
            by_vendor: dict[Any, list[tuple[str, dict[str, Any]]]]) -> dict[str, Any]:
    """What the reviewer needs to see besides the queue row."""
    if kind in ("expenditure", "commitment"):
        state = (project.expenditures if kind == "expenditure" else project.commitments).get(item, {})
        line = state.get("line")
        before = project.available(line) if line in project.lines else None
        after = None if before is None else before - state.get("amount", ZERO)
        vendor = state.get("vendor")
        history = [(k, e) for k, e in by_vendor.get(vendor, ()) if k != item]
        approved = sum((e["amount"] for _, e in history if e["status"] == "approved"), ZERO)
        return {"state": state, "line": line, "before": before, "after": after,
                "vendor": vendor, "history": history[-5:], "history_count": len(history),
                "history_total": approved}
    if kind == "transfer":
        t = project.transfers.get(item, {})
        out: dict[str, Any] = {"state": t}
        for side, sign in (("from_line", -1), ("to_line", 1)):
            line = t.get(side)
            if line in project.lines:
                before = project.available(line)
                out[side] = (line, before, before + sign * t["amount"])
        return out
    if kind == "change-request":
        return {"state": project.change_requests.get(item, {})}
    if kind == "gate-signoff":
        return {"state": project.gates.get(item, {})}
    return {}


def _page(role: str, *, failed: tuple[str, str, str] | None = None, values: dict[str, Any] | None = None,
          errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    aggregates, models = get_aggregates(), get_read_models()
    items = models.queue(role)
    projects: dict[str, tuple[Any, Any]] = {}
    rows = []
    for q in items:
        if q.project not in projects:
            project = aggregates.project(q.project)
            projects[q.project] = (project, _by_vendor(project))
        project, by_vendor = projects[q.project]
        rows.append((q, _detail(project, q.kind, q.item, by_vendor)))
    return render_template("queue.html", role=role, title=TITLES[role], rows=rows,
                           failed=failed, values=values or {}, errors=errors or {},
                           me=current_user().username), status  # type: ignore[union-attr]


@bp.get("/queues/<role>")
@login_required
def queue(role: str) -> Any:
    require_queue_role(role)
    return _page(role)


@bp.post("/queues/<role>/<kind>/<code>/<item>/<decision>")
@login_required
def decide(role: str, kind: str, code: str, item: str, decision: str) -> Any:
    require_queue_role(role)
    schema_class, command = DECISIONS.get(kind, {}).get(decision, (None, None))
    if schema_class is None:
        abort(404)
    schema = schema_class()
    key = (kind, code, item)
    try:
        data = load(schema)
        command(get_pmo(), acting(), code, item, role, data)
    except FormErrors as e:
        return _page(role, failed=key, values=e.values, errors=e.errors, status=422)
    except DomainError as e:
        values = {k: request.form.get(k, "") for k in schema.fields}
        return _page(role, failed=key, values=values, errors={"_schema": [e.message]},
                     status=status_of(e))
    # The decision's own receipt, as its save reported it (not looked up afterwards).
    return redirect(url_for("queues.receipt", role=role, position=appended_receipts()[-1].position))


@bp.get("/queues/<role>/receipt/<int:position>")
@login_required
def receipt(role: str, position: int) -> Any:
    """The signature manifestation of a decision just recorded (21 CFR Part 11 §11.50)."""
    require_queue_role(role)
    models = get_read_models()
    if position > MAX_POSITION:
        abort(404)
    rows = log_rows(models, before=position + 1, limit=1)
    if not rows or rows[0].position != position:
        abort(404)
    row = rows[0]
    if row.actor_id != current_user().username:  # type: ignore[union-attr]
        abort(403, description="a receipt is shown to the person who signed it")
    data = payload(get_pmo(), position) or {}
    return render_template("receipt.html", role=role, row=row, data=data,
                           amount=_amount(data))


def _amount(data: dict[str, Any]) -> Decimal | None:
    value = data.get("amount")
    if isinstance(value, dict):  # the canonical JSON of a Decimal: {"_type_": "decimal", "_data_": "..."}
        value = value.get("_data_")
    return Decimal(value) if isinstance(value, str) else None
