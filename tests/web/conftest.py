"""A small ledger for the page tests, made once per session and copied for each test.

People (password `demo`): admin, pm, pm2, fiscal, fiscal2, sponsor, pmo, auditor — each
with the role of the same name (pm2: pm, fiscal2: fiscal). Project IT-2026-014 is
chartered by `pm` with two budget lines (HW-01 50,000; LB-01 200,000) and two milestones,
and waits on every queue: EXP-0001 (2,500.00 on HW-01) for fiscal, CR-001 for the sponsor,
the G0 review for the PMO lead and the sponsor, TR-001 (1,000 LB-01 -> HW-01) for fiscal.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from domain.readmodels import ReadModels
from domain.services import PMOApplication
from ledger.application import init_ledger
from ledger.keys import PASSPHRASE_ENV
from tests.domain.helpers import FAST_HASH, enrol_cast
from web.app import create_app
from web.ledger_access import close_ledger, get_pmo

PW = "web-tests-passphrase-not-secret"
CODE = "IT-2026-014"
ROLES = ("pm", "fiscal", "sponsor", "pmo", "auditor", "admin")


def build_ledger(path: Path) -> None:
    app, root = init_ledger(f"sqlite:///{path}", PW, app_class=PMOApplication)
    app.password_method = FAST_HASH
    enrol_cast(app, root, passphrase=PW, password="demo", reason="web tests")
    pm = app.actor("pm", PW)
    app.charter_project(
        pm, code=CODE, title="Online permits portal", sponsor="Sam Sponsor",
        project_manager="Pat Manager", business_relationship_manager="Bea Relations",
        objectives=["Permits online"], scope_statement="Building and street permits",
        start_date=date(2025, 1, 1), target_finish=date(2026, 6, 30), fund="General Fund",
        cost_centre="CC-4100", funding_type="capital")
    app.add_budget_line(pm, CODE, line="HW-01", name="Servers", category="hardware", amount="50000.00")
    app.add_budget_line(pm, CODE, line="LB-01", name="Developers", category="labour", amount="200000.00")
    app.add_milestone(pm, CODE, milestone="M-01", name="Design", planned_start=date(2025, 1, 1),
                      planned_finish=date(2025, 6, 30), budgeted_value="100000.00")
    app.add_milestone(pm, CODE, milestone="M-02", name="Build", planned_start=date(2025, 7, 1),
                      planned_finish=date(2025, 12, 31), budgeted_value="150000.00")
    app.submit_expenditure(pm, CODE, line="HW-01", amount="2500.00", vendor="Acme Servers",
                           invoice_number="INV-1", invoice_date=date(2025, 3, 1),
                           description="Two rack servers")
    app.submit_change_request(pm, CODE, title="Add payments", description="Online payments",
                              justification="Residents ask for it",
                              cost_impacts=[{"line": "LB-01", "amount": "10000.00"}])
    app.request_budget_transfer(pm, CODE, from_line="LB-01", to_line="HW-01", amount="1000.00",
                                reason="more servers")
    app.request_gate_review(pm, CODE, "G0", artifacts=[{"name": "charter.pdf"}])
    ReadModels(app).catch_up()
    app.close()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web-template") / "ledger.db"
    mp = pytest.MonkeyPatch()
    mp.setenv(PASSPHRASE_ENV, PW)
    try:
        build_ledger(path)
    finally:
        mp.undo()
    return path


def make_app(url: str, tmp_path: Path, **config: Any) -> Flask:
    settings = {"LEDGER_DB": url, "SECRET_KEY": "web-tests", "TESTING": True,
                "WTF_CSRF_ENABLED": False, "PASSWORD_METHOD": FAST_HASH}
    settings.update(config)
    app = create_app(settings)
    app.instance_path = str(tmp_path)
    return app


@dataclass
class Site:
    app: Flask
    client: FlaskClient

    @property
    def pmo(self) -> PMOApplication:
        return get_pmo(self.app)

    def size(self) -> int:
        return self.pmo.size()

    def sign_in(self, username: str, client: FlaskClient | None = None) -> FlaskClient:
        client = client or self.client
        client.post("/signout")
        response = client.post("/signin", data={"username": username, "password": "demo"})
        assert response.status_code == 302, response.data[:500]
        return client

    def as_user(self, username: str) -> FlaskClient:
        """A fresh client signed in as `username`."""
        return self.sign_in(username, self.app.test_client())


@pytest.fixture
def site(template_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv(PASSPHRASE_ENV, PW)
    path = tmp_path / "ledger.db"
    shutil.copy(template_db, path)
    app = make_app(f"sqlite:///{path}", tmp_path)
    try:
        yield Site(app, app.test_client())
    finally:
        close_ledger(app)


def text_of(html: bytes) -> str:
    """The page's text without tags, whitespace collapsed (for `in` checks)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.decode()))
