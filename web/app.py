"""The Flask application factory: the pages, the JSON API, CSRF, error pages, security
headers and cookie flags (web/security.py), the sign-in rate limit (web/throttle.py), and
the ledger's integrity on every request (`_install_integrity`).

Nothing opens the ledger here: the first request that needs it does (web/ledger_access.py).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask, g, request
from flask_wtf.csrf import CSRFProtect

from ledger.backend import resolve_url
from ledger.errors import LedgerError

csrf = CSRFProtect()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create the app; the ledger is opened lazily, never at import time."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        LEDGER_DB=None,
        SECRET_KEY=None,
        KEY_PASSPHRASE=None,
        WTF_CSRF_TIME_LIMIT=None,  # a form left open over lunch still submits
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SECURE_COOKIES=None,  # None: Secure over HTTPS, or always if $PMO_LEDGER_SECURE_COOKIES=1
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,  # invoice uploads; larger requests get 413
        # The sign-in throttle's LOGIN_* and the sessions' SESSION_*_SECONDS settings
        # default in web/throttle.py and web/sessions.py.
        VERIFY_WORKERS=1,  # the verification page runs in a thread of the server
        # The integrity monitor's background thread (ledger/integrity.py): None takes
        # $PMO_LEDGER_INTEGRITY_SWEEP_SECONDS (default 5; 0: no sweep) and
        # $PMO_LEDGER_FULL_VERIFY_SECONDS (default daily; 0: never).
        INTEGRITY_BACKGROUND=True,
        INTEGRITY_SWEEP_SECONDS=None,
        INTEGRITY_FULL_VERIFY_SECONDS=None,
    )
    if config:
        app.config.from_mapping(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config["LEDGER_DB"] = resolve_url(app.config["LEDGER_DB"], app.instance_path)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))

    csrf.init_app(app)  # its check runs before the rate limit's (registered below)

    from web import auth, idempotency, pages, security, throttle
    from web.pages import admin, audit, items, pm, portfolio, projects, queues, reports, tokens

    app.register_blueprint(auth.bp)
    for area in (portfolio, projects, pm, items, queues, audit, reports, admin, tokens):
        app.register_blueprint(area.bp)
    pages.install(app)
    _register_api(app)
    security.install(app)
    throttle.install(app)
    _install_integrity(app)
    idempotency.install(app)  # after the API: keys on writes, receipts after a commit
    return app


def _instance_secret(folder: Path) -> str:
    """A session-signing secret kept in the instance folder (made once), so sessions
    survive a restart without a secret in the code."""
    path = folder / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _register_api(app: Flask) -> None:
    """The JSON API (web/api): bearer tokens, so its blueprints are exempt from CSRF."""
    from web.api import exempt_from_csrf, register_api

    register_api(app)
    exempt_from_csrf(app)


# Integrity: every request first looks for new positions (and verifies them); a fault is
# shown on every page, named in every API answer's Ledger-Integrity header, and refuses
# every write. Each worker process verifies for itself (ledger/integrity.py says why).

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Writes to nothing in the log: signing in and out (the API's bearer tokens are its
# sign-in, and revoking one -- a stolen token, say -- its sign-out), and starting a
# verification run, which is how an auditor looks into a fault.
STILL_ALLOWED = frozenset({"auth.sign_in", "auth.sign_out", "api_tokens.issue_token",
                           "api_tokens.revoke_token", "tokens.revoke", "audit.verify"})
INTEGRITY_HEADER = "Ledger-Integrity"


def _install_integrity(app: Flask) -> None:
    import os

    from ledger import integrity

    integrity.tolerate(app.config["LEDGER_DB"])  # its read models stop quietly: a banner says why
    background = integrity.settings(os.environ, app.config)

    def monitor() -> integrity.IntegrityMonitor:
        from web.ledger_access import get_pmo

        watcher = integrity.monitor_for(get_pmo(app))
        if app.config.get("INTEGRITY_BACKGROUND"):
            watcher.start_background(**background)  # once per process (and per open ledger)
        return watcher

    @app.before_request
    def _check_integrity() -> None:
        if request.endpoint == "static":
            return
        try:
            watcher = monitor()
        except LedgerError:  # no ledger there, or it cannot be opened: a view that needs it says so
            return
        fault = watcher.poll(limit=integrity.INLINE_LIMIT)  # the database's failure is the answer's
        g.integrity_monitor = watcher
        if fault is not None and request.method in WRITES and request.endpoint not in STILL_ALLOWED:
            raise integrity.LedgerFaultError(fault)

    def current_fault() -> Any:
        """The first fault as the monitor knows it now (the answer's own catch-up may
        have found one since the request began)."""
        watcher = g.get("integrity_monitor")
        return watcher.fault if watcher is not None else None

    @app.after_request
    def _integrity_header(response: Any) -> Any:
        if request.path.startswith("/api/") and "integrity_monitor" in g:
            fault = current_fault()
            response.headers[INTEGRITY_HEADER] = "ok" if fault is None else (
                f"fault; position={fault.position}" if fault.position is not None else "fault")
        return response

    @app.context_processor
    def _integrity_banner() -> dict[str, Any]:
        return {"ledger_fault": current_fault()}
