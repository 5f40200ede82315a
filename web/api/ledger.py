"""/api/v1 tokens, the review queue, compliance findings and the ledger itself
(verification, checkpoints, the events)."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from flask import Response, current_app, url_for

from domain.common import ROLES
from domain.errors import NotFoundError
from ledger.checkpoint import parse as parse_checkpoint
from web import schemas as s
from web import verify_jobs
from web.api.common import (
    bearer_token,
    current_actor,
    current_username,
    jsonable,
    pmo,
    require_oversight,
)
from web.api.parsing import Blueprint
from web.auth import check_password
from web.errors import TooManyAttempts, Unauthorised
from web.ledger_access import get_aggregates, get_read_models, passphrase

tokens = Blueprint("api_tokens", __name__, url_prefix="/api/v1/tokens",
                   description="Bearer tokens for the API")
oversight = Blueprint("api_ledger", __name__, url_prefix="/api/v1",
                      description="The log, its verification and checkpoints; compliance findings; queues")


def _errors(blp: Blueprint, *statuses: int) -> Any:
    def wrap(view: Any) -> Any:
        for status in statuses:
            view = blp.alt_response(status, schema=s.ErrorSchema, description="refused")(view)
        return view
    return wrap


@tokens.route("", methods=["POST"])
@tokens.public
@_errors(tokens, 400, 401, 415, 422, 429)
@tokens.arguments(s.TokenRequestSchema)
@tokens.response(201, s.TokenSchema)
def issue_token(credentials: dict[str, Any]) -> Any:
    """Exchange a username and password for a bearer token (shown once)"""
    app = pmo()
    username = credentials["username"]
    if not check_password(app, username, credentials["password"]):  # same time if unknown
        raise Unauthorised("unknown username or wrong password")
    actor = app.actor(username, passphrase())
    token_id, token = app.issue_api_token(actor, username, label=credentials["label"],
                                          days=credentials["days"])
    return {"token": token, "token_id": token_id, "username": username,
            "expires_at": app.api_token_expiry(token_id)}


@tokens.route("/<token_id>", methods=["DELETE"])
@_errors(tokens, 401, 403, 404)
@tokens.response(204, description="revoked (or already revoked): the next request with the "
                                  "token is answered 401")
def revoke_token(token_id: str) -> Any:
    """Revoke a bearer token: one's own, or (an administrator) anyone's"""
    pmo().revoke_api_token(current_actor(), token_id)
    return None


@oversight.route("/queue")
@_errors(oversight, 401)
@oversight.response(200, s.QueueItemSchema(many=True))
def queue() -> Any:
    """What waits for the caller: the review queue of every role they hold"""
    username = current_username()
    held = get_aggregates().directory().roles_of(username)
    models = get_read_models()
    return [item for role in ROLES if role in held for item in models.queue(role)]


@oversight.route("/compliance/findings")
@_errors(oversight, 401, 403)
@oversight.arguments(s.FindingsQuerySchema, location="query")
@oversight.response(200, s.FindingSchema(many=True))
def findings(query: dict[str, Any]) -> Any:
    """Compliance findings with the log positions of their evidence (auditor, PMO, admin)"""
    require_oversight()
    return get_read_models().findings(query.get("project"))


class VerifyTooSoon(TooManyAttempts):
    """A token asked for a new verification run too soon after its last (429)."""

    def __init__(self, retry_after: float, interval: float) -> None:
        super().__init__(math.ceil(retry_after))
        self.message = (f"this token started a verification run less than {interval:.0f} s ago; "
                        f"ask again in {self.retry_after} s (a run in progress, or a result for "
                        "the current head, is answered at any time)")
        self.args = (self.message,)


_LOCATION = {"Location": {"description": "the run to poll: GET /api/v1/ledger/verify/jobs/{job_id}",
                          "schema": {"type": "string"}}}
_RETRY_AFTER = {"Retry-After": {"description": "seconds until this token may start a new run",
                                "schema": {"type": "integer"}}}


@oversight.route("/ledger/verify")
@_errors(oversight, 401, 403)
@oversight.alt_response(429, schema=s.ErrorSchema, headers=_RETRY_AFTER,
                        description="this token started a run less than VERIFY_START_INTERVAL "
                                    "(default 60) seconds ago")
@oversight.alt_response(202, schema=s.VerifyJobSchema, headers=_LOCATION, success=True,
                        description="a run is in progress (started or joined): its progress; "
                                    "poll Location, or ask again")
@oversight.response(200, s.VerifyReportSchema,
                    description="the report of a finished run for the current head")
def verify() -> Any:
    """Verify every signature, chain link, checkpoint and stored snapshot (`ok`: clean)

    Verification runs in the background, one run at a time: a request while one runs joins
    it (202, with its progress and a Location to poll); a finished run for the current head
    (log size and chain head hash) is answered from cache (200) for VERIFY_CACHE_SECONDS
    (default an hour); otherwise the request starts a new run (202), which a token may do
    once every VERIFY_START_INTERVAL seconds (default 60; else 429 with Retry-After)."""
    username = require_oversight()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    interval = float(app.config.get("VERIFY_START_INTERVAL", verify_jobs.START_INTERVAL))
    token = bearer_token() or ""
    try:
        run = verify_jobs.request(app, started_by=username, interval=interval,
                                  starter="token:" + hashlib.sha256(token.encode()).hexdigest())
    except verify_jobs.TooSoon as e:
        raise VerifyTooSoon(e.retry_after, e.interval) from None
    if run.status == "done" and (run.size, run.head) == verify_jobs.current_head(pmo()):
        return run.report
    location = url_for("api_ledger.verify_job", job_id=run.id)
    body = s.VerifyJobSchema().dump(run.job())
    return Response(json.dumps(body), status=202, mimetype="application/json",
                    headers={"Location": location})


@oversight.route("/ledger/verify/jobs/<job_id>")
@_errors(oversight, 401, 403, 404)
@oversight.response(200, s.VerifyJobSchema)
def verify_job(job_id: str) -> Any:
    """A verification run: its progress, then its report (or why it failed)"""
    require_oversight()
    run = verify_jobs.get(current_app._get_current_object(), job_id)  # type: ignore[attr-defined]
    if run is None:
        raise NotFoundError(f"no verification run {job_id} (finished runs are kept a week)")
    return run.job()


@oversight.route("/ledger/checkpoint")
@_errors(oversight, 401, 403, 404)
@oversight.arguments(s.CheckpointQuerySchema, location="query")
@oversight.response(200, s.CheckpointSchema, description="JSON, or the note as text/plain with ?format=text")
@oversight.alt_response(200, schema={"type": "string"}, content_type="text/plain",
                        description="JSON, or the C2SP signed note verbatim as text/plain with ?format=text")
def checkpoint(query: dict[str, Any]) -> Any:
    """The latest stored checkpoint: a signed note of the log's size, Merkle root and head"""
    require_oversight()
    note = pmo().latest_checkpoint_note()
    if note is None:
        raise NotFoundError("no checkpoint has been signed yet (`pmo-ledger checkpoint`)")
    if query["format"] == "text":
        return Response(note, mimetype="text/plain")
    cp, _, _ = parse_checkpoint(note)
    return {"note": note, "origin": cp.origin, "size": cp.size, "root": cp.root.hex(),
            "chain_head": cp.chain_head.hex(), "time": cp.time}


@oversight.route("/ledger/events")
@_errors(oversight, 401, 403, 422)
@oversight.arguments(s.EventsQuerySchema, location="query")
@oversight.response(200, s.EventsPageSchema)
def events(query: dict[str, Any]) -> Any:
    """The log, a page at a time: position, topic, signing key and its owner, payload"""
    require_oversight()
    app = pmo()
    size = app.size()
    lo, hi = query["after"] + 1, min(size, query["after"] + query["limit"])
    rows = app.read_chain(lo, hi) if lo <= hi else []
    owners = {kid: key["owner"] for kid, key in _keys(app).items()}
    out = []
    for r in rows:
        try:
            payload = json.loads(bytes(r.state)) if r.state is not None else None
        except ValueError:
            payload = None
        out.append({
            "position": r.position, "topic": r.topic, "originator_id": str(r.originator_id),
            "originator_version": r.originator_version, "key_id": r.key_id,
            "signer": owners.get(r.key_id), "signature": bytes(r.signature).hex(),
            "chain_hash": bytes(r.chain_hash).hex(), "payload": jsonable(payload),
        })
    return {"events": out, "size": size, "next_after": hi if hi < size else None}


def _keys(app: Any) -> dict[str, dict[str, Any]]:
    ring = app.keyring()
    keys = getattr(ring, "keys", None)
    return keys if isinstance(keys, dict) else {}
