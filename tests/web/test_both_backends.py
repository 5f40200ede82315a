"""The web edge on SQLite and on PostgreSQL: the same journey through the JSON API and the
pages, refused acts write nothing, and the ledger verifies afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from domain.services import PMOApplication
from ledger.application import init_ledger, ledger_size
from ledger.keys import PASSPHRASE_ENV
from tests.api.verifying import verification
from tests.domain.helpers import FAST_HASH, enrol_cast
from web.app import create_app

PW = "both-backends-passphrase"
PASSWORD = "demo-password"
CAST = [("pm", "Pat Manager", "pm"), ("fiscal", "Fay Fiscal", "fiscal"),
        ("auditor", "Otto Auditor", "auditor")]
CHARTER = {
    "code": "IT-2026-301", "title": "Library kiosks", "sponsor": "sponsor",
    "project_manager": "pm", "start_date": "2026-01-05", "target_finish_date": "2026-12-18",
    "fund": "General Fund", "capital": True, "objectives": ["Self-service kiosks"],
    "scope_statement": "Ten branches",
}
INVOICE = {"line": "HW-01", "amount": "1250.00", "vendor": "Acme", "invoice_number": "A-77",
           "invoice_date": "2026-04-01", "description": "kiosk racks"}


@pytest.fixture
def client(backend_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    monkeypatch.setenv(PASSPHRASE_ENV, PW)
    monkeypatch.setattr(PMOApplication, "password_method", FAST_HASH)
    app, root = init_ledger(backend_url, PW, app_class=PMOApplication)
    try:
        enrol_cast(app, root, passphrase=PW, password=PASSWORD, people=CAST)
    finally:
        app.close()
    flask_app = create_app({"LEDGER_DB": backend_url, "WTF_CSRF_ENABLED": False, "TESTING": True})
    yield flask_app.test_client()


def token(client: FlaskClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def test_the_same_journey_on_each_backend(client: FlaskClient, backend_url: str) -> None:
    pm, fiscal, auditor = (token(client, u) for u, _, _ in CAST)
    base = f"/api/v1/projects/{CHARTER['code']}"
    assert client.post("/api/v1/projects", json=CHARTER, headers=pm).status_code == 201
    line = {"line": "HW-01", "category": "hardware", "amount": "5000.00"}
    assert client.post(f"{base}/budget-lines", json=line, headers=pm).status_code == 201
    submitted = client.post(f"{base}/expenditures", json=INVOICE, headers=pm)
    assert submitted.status_code == 201, submitted.get_json()
    exp = submitted.get_json()["id"]

    size = ledger_size(backend_url)
    own = client.post(f"{base}/expenditures/{exp}/approve", json={}, headers=pm)
    assert own.status_code == 403 and own.get_json()["code"] in {"forbidden", "segregation-of-duties"}
    assert ledger_size(backend_url) == size, "a refused approval writes nothing"

    approved = client.post(f"{base}/expenditures/{exp}/approve", json={}, headers=fiscal)
    assert approved.status_code == 200, approved.get_json()
    budget = client.get(f"{base}/budget", headers=fiscal).get_json()
    assert "1250.00" in str(budget) and "3750.00" in str(budget), budget

    verified = verification(client, auditor).get_json()
    assert verified["ok"] is True and verified["events"] == ledger_size(backend_url)

    signin = client.post("/signin", data={"username": "fiscal", "password": PASSWORD})
    assert signin.status_code == 302
    portfolio = client.get("/")
    assert portfolio.status_code == 200 and CHARTER["code"].encode() in portfolio.data
    csv = client.get("/reports/budget?format=csv")
    assert csv.status_code == 200 and b"HW-01" in csv.data
