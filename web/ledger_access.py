"""One open ledger per process: the PMOApplication and its read models, opened lazily.

Nothing is opened at import time or when the app is created; the first request that needs
the ledger opens it (`get_pmo()`), and every later request of the process shares it
(the application and its recorders are safe to share between the server's threads).

Never between processes: a database connection (a psycopg socket, an SQLite handle with
its locks) must not cross a fork. `pmo-ledger serve` closes the ledger before gunicorn
forks its workers, so each worker opens its own; should a forked process still find its
parent's ledger here, it opens a new one and leaves the inherited one untouched (closing
or even garbage-collecting it would end the parent's PostgreSQL sessions).

    pmo = get_pmo()                     # domain.services.PMOApplication
    models = get_read_models()          # domain.readmodels.ReadModels over the same app
    actor = pmo.actor(username, passphrase())
"""

from __future__ import annotations

import os
import threading
from typing import Any

from flask import Flask, current_app

from domain.readmodels import ReadModels
from domain.services import PMOApplication
from ledger.application import open_ledger
from ledger.errors import LedgerError
from ledger.keys import configured_passphrase
from web.aggregates import AggregateCache

_LOCK = threading.Lock()
_KEY = "pmo_ledger"
# Ledgers a forked process inherited: kept referenced, never closed or collected here.
_INHERITED: list[Any] = []


def _state(app: Flask) -> dict[str, Any]:
    state = app.extensions.setdefault(_KEY, {})
    if state.get("pid") != os.getpid():
        with _LOCK:
            if state.get("pid") != os.getpid():
                if state:
                    _INHERITED.append(dict(state))
                state.clear()
                state["pid"] = os.getpid()
    return state


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
                _seal_snapshots(pmo, app.config.get("KEY_PASSPHRASE"))
                state["pmo"] = pmo
    return pmo  # type: ignore[return-value]


def _seal_snapshots(pmo: PMOApplication, configured: str | None) -> None:
    """A passphrase given in the app's settings (not the environment, which the ledger
    reads itself) also unlocks the root key that seals snapshots; without it the process
    writes no snapshots and loads fold the events, which is slower but as correct."""
    if configured:
        try:
            pmo.seal_snapshots_with(pmo.root_signer(configured))
        except LedgerError:  # a wrong passphrase: signing says so where it matters
            pass


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


def get_aggregates(app: Flask | None = None) -> AggregateCache:
    """Projects and the directory for reading (web/aggregates.py): each thread's latest,
    brought forward by the events since, not replayed from the first on every request."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    pmo = get_pmo(app)
    state = _state(app)
    cache = state.get("aggregates")
    if cache is None or cache.pmo is not pmo:
        with _LOCK:
            cache = state.get("aggregates")
            if cache is None or cache.pmo is not pmo:
                cache = state["aggregates"] = AggregateCache(pmo)
    return cache  # type: ignore[no-any-return]


def passphrase(app: Flask | None = None) -> str:
    """The passphrase the server's held signing keys are encrypted with: the app's
    KEY_PASSPHRASE setting, else $PMO_LEDGER_PASSPHRASE."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return configured_passphrase(app.config.get("KEY_PASSPHRASE"))


def close_ledger(app: Flask) -> None:
    """Close the process's ledger (tests, and the end of `serve`)."""
    state = _state(app)
    state.pop("models", None)
    state.pop("aggregates", None)
    pmo = state.pop("pmo", None)
    if pmo is not None:
        pmo.close()
