"""One open ledger per process: the PMOApplication and its read models, opened lazily.

Nothing is opened at import time or when the app is created; the first request that needs
the ledger opens it (`get_pmo()`), and every later request of the process shares it
(the application and its recorders are safe to share between the server's threads).

    pmo = get_pmo()                     # domain.services.PMOApplication
    models = get_read_models()          # domain.readmodels.ReadModels over the same app
    actor = pmo.actor(username, passphrase())
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, current_app

from domain.readmodels import ReadModels
from domain.services import PMOApplication
from ledger.application import open_ledger
from ledger.keys import configured_passphrase

_LOCK = threading.Lock()
_KEY = "pmo_ledger"


def _state(app: Flask) -> dict[str, Any]:
    return app.extensions.setdefault(_KEY, {})


def get_pmo(app: Flask | None = None) -> PMOApplication:
    """The process's PMOApplication for the app's LEDGER_DB, opened on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    state = _state(app)
    pmo = state.get("pmo")
    if pmo is None:
        with _LOCK:
            pmo = state.get("pmo")
            if pmo is None:
                pmo = open_ledger(app.config["LEDGER_DB"], app_class=PMOApplication)
                method = app.config.get("PASSWORD_METHOD")
                if method:
                    pmo.password_method = method
                state["pmo"] = pmo
    return pmo  # type: ignore[return-value]


def get_read_models(app: Flask | None = None) -> ReadModels:
    """The read models of the process's ledger (each query catches up with the log first,
    so a user sees their own write on the next page)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    state = _state(app)
    models = state.get("models")
    if models is None:
        pmo = get_pmo(app)
        with _LOCK:
            models = state.get("models")
            if models is None:
                models = state["models"] = ReadModels(pmo)
    return models  # type: ignore[return-value]


def passphrase(app: Flask | None = None) -> str:
    """The passphrase the server's held signing keys are encrypted with: the app's
    KEY_PASSPHRASE setting, else $PMO_LEDGER_PASSPHRASE."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return configured_passphrase(app.config.get("KEY_PASSPHRASE"))


def close_ledger(app: Flask) -> None:
    """Close the process's ledger (tests, and the end of `serve`)."""
    state = _state(app)
    state.pop("models", None)
    pmo = state.pop("pmo", None)
    if pmo is not None:
        pmo.close()
