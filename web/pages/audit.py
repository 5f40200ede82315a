"""The auditor's console: the log with filters, one event with its payload and signature,
verification with progress, any project as of a date or a log position, per-field
history, compliance findings with links to their evidence, the evidence bundle."""

from __future__ import annotations

import re
import tempfile
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    after_this_request,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from domain.errors import DomainError
from domain.policy import GATE_NAMES, GATES
from domain.readmodels.store import instant_text
from ledger.bundle.export import export_bundle
from ledger.errors import LedgerError
from web.auth import current_user, requires
from web.ledger_access import get_pmo, get_read_models
from web.pages import charts, verification
from web.pages.events import (
    chain_log_row,
    event_names,
    log_row,
    log_rows,
    payload,
    signature_checks,
    signature_status,
)
from web.schemas import MAX_POSITION

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE = 50


def _day(name: str) -> date | None:
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(400, description=f"{name} {text!r} is not a date (YYYY-MM-DD)")


def _whole(name: str) -> int | None:
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    # Not str.isdigit(): it takes "²", which int() refuses; and a position the database
    # can hold (MAX_POSITION).
    if not re.fullmatch(r"[0-9]{1,16}", text) or int(text) > MAX_POSITION:
        abort(400, description=f"{name} {text!r} is not a log position")
    return int(text)


@bp.get("/")
@requires("audit")
def console() -> Any:
    models = get_read_models()
    facts = models.facts()
    return render_template("audit/console.html", projects=facts, size=get_pmo().size(),
                           position=models.position())


@bp.get("/log")
@requires("audit")
def log() -> Any:
    models = get_read_models()
    since, until = _day("since"), _day("until")
    filters = {k: (request.args.get(k) or "").strip() for k in ("project", "actor", "event")}
    rows = log_rows(
        models, project=filters["project"] or None, actor=filters["actor"] or None,
        event=filters["event"] or None,
        since=instant_text(datetime.combine(since, time.min, UTC)) if since else None,
        until=instant_text(datetime.combine(until, time.max, UTC)) if until else None,
        before=_whole("before"), limit=PAGE)
    signatures = signature_status(get_pmo(), [r.position for r in rows])
    older = rows[-1].position if len(rows) == PAGE else None
    return render_template("audit/log.html", rows=rows, signatures=signatures, filters=filters,
                           since=since, until=until, older=older, events=event_names(models),
                           projects=[f.project for f in models.facts()])


@bp.get("/events/<int:position>")
@requires("audit")
def event(position: int) -> Any:
    models, pmo = get_read_models(), get_pmo()
    row = (log_row(models, position) or chain_log_row(pmo, position)) if position <= MAX_POSITION else None
    if row is None:
        abort(404, description=f"no event at position {position}")
    check = signature_checks(pmo, [position])[position]
    return render_template("audit/event.html", row=row, data=payload(pmo, position),
                           signature=check.status, check=check)


@bp.route("/verify", methods=["GET", "POST"])
@requires("audit")
def verify() -> Any:
    if request.method == "POST":
        run = verification.start(current_app._get_current_object(), current_user().username)  # type: ignore[attr-defined,union-attr]
        return redirect(url_for("audit.verify_run", run_id=run.id))
    return render_template("audit/verify.html", run=None, size=get_pmo().size())


@bp.get("/verify/<run_id>")
@requires("audit")
def verify_run(run_id: str) -> Any:
    run = verification.get(current_app._get_current_object(), run_id)  # type: ignore[attr-defined]
    if run is None:
        abort(404, description="no such verification run (the server may have restarted)")
    if request.args.get("format") == "json":
        return jsonify(run.as_dict())
    return render_template("audit/verify.html", run=run, size=get_pmo().size())


@bp.get("/projects/<code>/as-of")
@requires("audit")
def as_of(code: str) -> Any:
    models = get_read_models()
    (facts,) = models.facts(code) or abort(404, description=f"no project {code}")
    day, position = _day("date"), _whole("position")
    replay, error = None, None
    if day is not None or position is not None:
        try:
            if position is not None:
                replay = models.replay(code, position=position)
            else:
                replay = models.replay(code, instant=datetime.combine(day, time.max, UTC))
        except DomainError as e:
            error = e.message
    chart = None
    if replay is not None and replay.lines:
        chart = charts.budget_by_line(replay.lines, replay.project.currency)
    return render_template("audit/as_of.html", code=code, facts=facts, day=day,
                           position=position, replay=replay, error=error, gates=GATES,
                           gate_names=GATE_NAMES, chart=chart,
                           status=422 if error else 200), 422 if error else 200


@bp.get("/projects/<code>/history")
@requires("audit")
def history(code: str) -> Any:
    models = get_read_models()
    field = (request.args.get("field") or "").strip() or None
    # Without a field: the charter's history and the list of items (a whole project's
    # history runs to tens of thousands of field changes).
    entries = models.audit_trail(code, field or "charter")
    items = sorted({_group(item) for item in models.audit_items(code)})
    return render_template("audit/history.html", code=code, field=field or "charter",
                           entries=entries[-500:], total=len(entries), fields=items)


def _group(item: str) -> str:
    """Budget lines, milestones and gates one by one; other items by kind."""
    head = item.split(".", 1)[0]
    return item if head in ("lines", "milestones", "gates", "charter") else head


@bp.get("/findings")
@requires("audit")
def findings() -> Any:
    models = get_read_models()
    project = (request.args.get("project") or "").strip() or None
    rows = models.findings(project)
    return render_template("audit/findings.html", rows=rows, project=project)


@bp.post("/bundle")
@requires("audit")
def bundle() -> Any:
    """Export the evidence bundle with the latest stored checkpoint and send it; writes nothing."""
    pmo = get_pmo()
    folder = Path(tempfile.mkdtemp(prefix="pmo-bundle-"))
    name = f"evidence-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.zip"
    target = folder / name
    try:
        # No root key: an auditor's download never signs or stores a checkpoint.
        export_bundle(pmo, target)
    except LedgerError as e:
        folder.rmdir()
        abort(409, description=str(e))

    @after_this_request
    def _cleanup(response: Any) -> Any:
        target.unlink(missing_ok=True)
        folder.rmdir()
        return response

    return send_file(target, mimetype="application/zip", as_attachment=True, download_name=name)
