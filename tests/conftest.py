"""Fixtures: every storage-level test runs on SQLite and on PostgreSQL.

PostgreSQL: 127.0.0.1:5432, user postgres (trust auth), database `test`; each test gets
a fresh schema, dropped afterwards. When the server is unreachable the PostgreSQL cases
are skipped locally, but fail when CI=true: CI must never go green without PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from time import perf_counter
from types import SimpleNamespace
from typing import Any

import pytest

from ledger.application import LedgerApplication, init_ledger, open_ledger
from ledger.keys import PASSPHRASE_ENV, Signer
from tests.support import PASSPHRASE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow files (marked `slow`) first, each in its own order: pytest-xdist hands out
    whole files in this order, so the longest start at once instead of ending the run."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


PG_HOST = os.environ.get("PMO_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PMO_TEST_PG_PORT", "5432"))
PG_ADMIN_DSN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"
BACKENDS = ["sqlite", "postgresql"]

_pg_error: list[str] = []  # cached reason PostgreSQL is unreachable ("" when reachable)


def _pg_unavailable() -> str:
    """'' when the test PostgreSQL answers, else why not (checked once per session)."""
    if not _pg_error:
        try:
            import psycopg

            with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            _pg_error.append("")
        except Exception as e:  # noqa: BLE001 - any failure means "not available"
            _pg_error.append(f"PostgreSQL at {PG_ADMIN_DSN} is unreachable: {e}")
    return _pg_error[0]


def require_postgres() -> None:
    reason = _pg_unavailable()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (required when CI=true)", pytrace=False)
        pytest.skip(reason)


def pg_admin(sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        return
    require_postgres()
    schema = f"t_{uuid.uuid4().hex}"
    pg_admin(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test?schema={schema}"
    finally:
        pg_admin(f"SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")


@pytest.fixture
def passphrase(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    return PASSPHRASE


@pytest.fixture
def open_app(backend_url: str, passphrase: str) -> Iterator[Callable[[], LedgerApplication]]:
    """Opens more applications on the test ledger; all are closed at teardown."""
    apps: list[LedgerApplication] = []

    def _open() -> LedgerApplication:
        app = open_ledger(backend_url)
        apps.append(app)
        return app

    yield _open
    for app in apps:
        app.close()


@pytest.fixture
def ledger(backend_url: str, passphrase: str) -> Iterator[tuple[LedgerApplication, Signer]]:
    """An initialised ledger: (application, root signer)."""
    app, root = init_ledger(backend_url, passphrase)
    try:
        yield app, root
    finally:
        app.close()


@pytest.fixture
def alice(ledger: tuple[LedgerApplication, Signer]) -> Signer:
    """A registered person's signing key (registered by the root key)."""
    app, root = ledger
    return app.enrol_signer("alice", PASSPHRASE, by=root, actor_id="ledger-root", actor_name="Ledger root key")



# The demo portfolio, seeded once per session ---------------------------------------------------

DEMO_PW = "demo-test-passphrase"
DEMO_PASSWORD = "demo-pw"
DEMO_AS_OF = date(2026, 11, 24)  # fixed, so the portfolio is the same whatever the day


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A seeded demo ledger (11,000+ signed events, fast password hashes), made once: the
    tests that need it copy the file (`copy_demo`). Seeding's progress calls, time and
    wall-clock start are kept for the tests of seeding itself."""
    from domain.services import PMOApplication
    from tests.domain.helpers import FAST_HASH
    from tools.demo.seed import seed_demo

    mp = pytest.MonkeyPatch()
    mp.setenv(PASSPHRASE_ENV, DEMO_PW)
    path = tmp_path_factory.mktemp("demo-template") / "demo.db"
    app, root = init_ledger(f"sqlite:///{path}", DEMO_PW, app_class=PMOApplication)
    app.password_method = FAST_HASH
    calls: list[tuple[int, int]] = []
    wall = datetime.now(UTC)
    started = perf_counter()
    try:
        summary = seed_demo(app, root, passphrase=DEMO_PW, password=DEMO_PASSWORD,
                            progress=lambda done, total: calls.append((done, total)), as_of=DEMO_AS_OF)
        seconds = perf_counter() - started
    finally:
        app.close()
        mp.undo()
    return SimpleNamespace(path=path, summary=summary, calls=calls, seconds=seconds, wall=wall)


def copy_demo(template: SimpleNamespace, folder: Path) -> str:
    """A copy of the seeded demo ledger in `folder`; its URL."""
    target = folder / "demo.db"
    shutil.copy(template.path, target)
    return f"sqlite:///{target}"


@pytest.fixture
def load_holder() -> Iterator[list[Any]]:
    """Loads started by a fault test (tests/faults.py `Load`), killed if it fails half-way."""
    loads: list[Any] = []
    yield loads
    for load in loads:
        load.stop()
