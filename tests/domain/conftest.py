"""Fixtures for the domain tests: a ledger with one person per role, copied per test.

The people (and their keys) are created once per session in a template SQLite file; each
test gets its own copy, so tests stay independent and fast.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.services import PMOApplication
from ledger.application import init_ledger, open_ledger
from ledger.keys import PASSPHRASE_ENV
from tests.domain.helpers import PW, World, enrol_cast

# Password hashing strength is werkzeug's concern; tests only need it to work.
PMOApplication.password_method = "pbkdf2:sha256:1000"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    mp = pytest.MonkeyPatch()
    mp.setenv(PASSPHRASE_ENV, PW)
    try:
        app, root = init_ledger(f"sqlite:///{path}", PW, app_class=PMOApplication)
        enrol_cast(app, root, passphrase=PW, password="demo")
        app.close()
    finally:
        mp.undo()
    return path


@pytest.fixture
def world(template_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv(PASSPHRASE_ENV, PW)
    path = tmp_path / "ledger.db"
    shutil.copy(template_db, path)
    url = f"sqlite:///{path}"
    app = open_ledger(url, app_class=PMOApplication)
    try:
        yield World(app, url)
    finally:
        app.close()
