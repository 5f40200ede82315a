"""The Flask application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from ledger.backend import resolve_url


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create the app; the ledger is opened lazily, never at import time."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(LEDGER_DB=None, SECRET_KEY="dev-only-change-me")
    if config:
        app.config.from_mapping(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config["LEDGER_DB"] = resolve_url(app.config["LEDGER_DB"], app.instance_path)

    from web import status

    app.register_blueprint(status.bp)
    return app
