"""Ledger status page: size, head hash and root-key fingerprint of the open ledger."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ledger.application import open_ledger
from ledger.errors import LedgerError

bp = Blueprint("status", __name__)


@bp.get("/")
def index():  # noqa: ANN201
    """Show what the ledger holds."""
    try:
        app = open_ledger(current_app.config["LEDGER_DB"])
    except LedgerError as e:
        return jsonify({"code": e.code, "message": str(e), "errors": {}}), 503
    try:
        size, head = app.head()
        ring = app.keyring()
        return jsonify({
            "events": size, "head": head.hex(), "origin": ring.origin,
            "root_key_fingerprint": ring.root_key_id,
        })
    finally:
        app.close()
