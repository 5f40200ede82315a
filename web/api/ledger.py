"""/api/v1 tokens, the review queue, compliance findings and the ledger itself
(verification, checkpoints, the events)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

from domain.common import ROLES
from domain.errors import NotFoundError
from ledger.checkpoint import parse as parse_checkpoint
from ledger.verify import verify_database
from web import schemas as s
from web.api.common import (
    current_actor,
    current_username,
    jsonable,
    pmo,
    require_oversight,
)
from web.api.parsing import Blueprint
from web.auth import check_password
from web.errors import Unauthorised
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
@_errors(tokens, 400, 401, 415, 422, 429)
@tokens.arguments(s.TokenRequestSchema)
@tokens.response(201, s.TokenSchema)
@tokens.doc(security=[])
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


@oversight.route("/ledger/verify")
@_errors(oversight, 401, 403)
@oversight.response(200, s.VerifyReportSchema)
def verify() -> Any:
    """Verify every signature, chain link and checkpoint; `ok` is true only when clean"""
    require_oversight()
    return verify_database(pmo(), workers=1).as_dict()


@oversight.route("/ledger/checkpoint")
@_errors(oversight, 401, 403, 404)
@oversight.arguments(s.CheckpointQuerySchema, location="query")
@oversight.response(200, s.CheckpointSchema, description="JSON, or the note as text/plain with ?format=text")
@oversight.alt_response(200, schema={"type": "string"}, content_type="text/plain",
                        description="JSON, or the C2SP signed note verbatim as text/plain with ?format=text")
def checkpoint(query: dict[str, Any]) -> Any:
    """The latest stored checkpoint: a signed note of the log's size, Merkle root and head"""
    require_oversight()
    rows = pmo().recorder.fetch("SELECT note FROM {checkpoints} ORDER BY id DESC LIMIT 1")
    if not rows:
        raise NotFoundError("no checkpoint has been signed yet (`pmo-ledger checkpoint`)")
    note = rows[0][0]
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
