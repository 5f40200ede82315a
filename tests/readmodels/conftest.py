"""Fixtures for the read-model tests: a ledger with one person per role, on each backend.

SQLite copies the session's template ledger (tests/domain/conftest.py); PostgreSQL gets a
fresh schema (tests/conftest.py's `backend_url`) and the same people enrolled in it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.services import PMOApplication
from ledger.application import init_ledger, open_ledger
from tests.domain.conftest import template_db, world  # noqa: F401 - fixtures used here
from tests.domain.helpers import PW, World, enrol_cast


@pytest.fixture
def any_world(backend_url: str, passphrase: str, template_db: Path) -> Iterator[World]:  # noqa: F811
    """A World (app + one actor per role) on SQLite and on PostgreSQL."""
    if backend_url.startswith("sqlite"):
        shutil.copy(template_db, backend_url.removeprefix("sqlite:///"))
        app = open_ledger(backend_url, app_class=PMOApplication)
    else:
        app = cast_ledger(backend_url)
    try:
        yield World(app, backend_url)
    finally:
        app.close()


def cast_ledger(url: str) -> PMOApplication:
    """A new ledger at `url` with the test cast enrolled (as the template has)."""
    app, root = init_ledger(url, PW, app_class=PMOApplication)
    enrol_cast(app, root, passphrase=PW)
    return app
