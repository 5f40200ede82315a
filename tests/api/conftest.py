"""Fixtures for the JSON API tests.

A template SQLite ledger is built once per session: everyone of tests/domain's cast
enrolled with a password and an API token, and project IT-2026-014 with a baseline and one
item of every kind waiting for a decision. Each test gets its own copy of the file and its
own Flask app (create_app), so tests are independent and fast.

In the template (all by the people the domain expects):
    lines HW-01 50,000.00 (hardware), LB-01 200,000.00 (labour); milestones M-01, M-02
    EXP-0001 1,000.00 on HW-01, pending          EXP-0002 2,000.00 on HW-01, approved
    PO-1 3,000.00 on LB-01, pending              PO-2 4,000.00 on LB-01, approved (open)
    TR-001 1,000.00 HW-01 -> LB-01, pending      CR-001 +500.00 on HW-01, pending
    G0 under review (requested by pm)            R-001 risk, I-001 issue
    one signed checkpoint
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from domain.services import PMOApplication
from ledger.application import init_ledger
from ledger.keys import PASSPHRASE_ENV
from ledger.verify import make_checkpoint
from tests.domain.helpers import CODE, FAST_HASH, PEOPLE, PW, add_baseline, enrol_cast

PASSWORD = "demo-password"
USERS = ["admin"] + [username for username, _, _ in PEOPLE]


@pytest.fixture(scope="session")
def api_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("api-template")
    path = folder / "ledger.db"
    mp = pytest.MonkeyPatch()
    mp.setenv(PASSPHRASE_ENV, PW)
    try:
        app, root = init_ledger(f"sqlite:///{path}", PW, app_class=PMOApplication)
        app.password_method = FAST_HASH  # this instance only: other tests keep the default
        enrol_cast(app, root, passphrase=PW, password=PASSWORD)
        actors = {u: app.actor(u, PW) for u in USERS}
        tokens = {u: app.issue_api_token(actors[u], u, label="tests")[1] for u in USERS}
        _scenario(app, actors)
        make_checkpoint(app, app.root_signer(PW))
        app.close()
    finally:
        mp.undo()
    (folder / "tokens.json").write_text(json.dumps(tokens))
    return path, tokens


def _scenario(app: PMOApplication, a: dict[str, Any]) -> None:
    pm, fiscal = a["pm"], a["fiscal"]
    app.charter_project(
        pm, code=CODE, title="Online permits portal", sponsor="sponsor", project_manager="pm",
        business_relationship_manager="Bea Relations", objectives=["Permits online"],
        scope_statement="Building and street permits", start_date=date(2025, 1, 1),
        target_finish=date(2026, 6, 30), fund="General Fund", cost_centre="CC-4100",
        funding_type="capital")
    add_baseline(app, pm, CODE)
    invoice = dict(vendor="Acme", invoice_date=date(2025, 3, 1), description="servers")
    app.submit_expenditure(pm, CODE, line="HW-01", amount="1000.00", invoice_number="INV-1",
                           **invoice)
    app.submit_expenditure(pm, CODE, line="HW-01", amount="2000.00", invoice_number="INV-2",
                           **invoice)
    app.approve_expenditure(fiscal, CODE, "EXP-0002")
    app.submit_commitment(pm, CODE, po_number="PO-1", vendor="Acme", line="LB-01",
                          amount="3000.00")
    app.submit_commitment(pm, CODE, po_number="PO-2", vendor="Acme", line="LB-01",
                          amount="4000.00")
    app.approve_commitment(fiscal, CODE, "PO-2")
    app.request_budget_transfer(pm, CODE, from_line="HW-01", to_line="LB-01", amount="1000.00",
                                reason="rebalance")
    app.submit_change_request(pm, CODE, title="More servers", description="two more",
                              justification="load", cost_impacts=[{"line": "HW-01", "amount": "500.00"}])
    app.request_gate_review(pm, CODE, "G0", artifacts=[{"name": "charter.pdf"}])
    app.raise_risk(pm, CODE, title="Vendor delay", probability=3, impact=4, owner="pm",
                   mitigation="second vendor")
    app.raise_issue(pm, CODE, title="Licences", description="late", severity="medium", owner="pm")


@dataclass
class ApiClient:
    """A test client on one copy of the template, with every person's token."""

    app: Flask
    client: FlaskClient
    tokens: dict[str, str]
    code: str = CODE
    last: Any = field(default=None)

    def headers(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens.get(who, who)}"}

    def call(self, method: str, path: str, who: str | None = None, body: Any = None,
             query: dict[str, Any] | None = None) -> Any:
        url = path if path.startswith("/") else f"/api/v1/{path}"
        self.last = self.client.open(url, method=method, headers=self.headers(who), json=body,
                                     query_string=query)
        return self.last

    def get(self, path: str, who: str | None = "auditor", **query: Any) -> Any:
        return self.call("GET", path, who, query=query or None)

    def post(self, path: str, who: str | None, body: Any = None) -> Any:
        return self.call("POST", path, who, {} if body is None else body)

    def project(self, suffix: str = "") -> str:
        return f"projects/{self.code}{suffix}"

    def size(self) -> int:
        from web.ledger_access import get_pmo

        return get_pmo(self.app).size()

    def log_row(self, position: int) -> Any:
        from web.ledger_access import get_pmo

        return get_pmo(self.app).read_log(position, position)[0]


def _make_app(config: dict[str, Any]) -> Flask:
    """The real app (create_app); PMO_API_BARE=1 builds the API alone (while debugging it)."""
    import os

    if os.environ.get("PMO_API_BARE") == "1":
        from web.api import register_api

        app = Flask("api-tests")
        app.config.update(config)
        register_api(app)
        return app
    from web.app import create_app

    return create_app(config)


@pytest.fixture
def api(api_template: tuple[Path, dict[str, str]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiClient]:
    monkeypatch.setenv(PASSPHRASE_ENV, PW)
    template, tokens = api_template
    path = tmp_path / "ledger.db"
    shutil.copy(template, path)
    from web.ledger_access import close_ledger

    app = _make_app({"LEDGER_DB": f"sqlite:///{path}", "TESTING": True, "KEY_PASSPHRASE": PW,
                     "PASSWORD_METHOD": FAST_HASH, "SECRET_KEY": "tests"})
    try:
        yield ApiClient(app, app.test_client(), tokens)
    finally:
        close_ledger(app)


def refused(api: ApiClient, response: Any, status: int, code: str, size_before: int) -> dict[str, Any]:
    """Assert a refusal: its status and stable code, the error shape, and nothing written."""
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert body["code"] == code, body
    assert set(body) >= {"code", "message", "errors"} and body["message"], body
    assert api.size() == size_before, "a refused request wrote to the log"
    return body
