"""Fixtures for the hostile-input suite: one fresh SQLite ledger per test module.

Each module gets its own ledger (tmp_path_factory), built the way tests/api builds its
template: the cast of tests/domain enrolled with a password and an API token each, and
project IT-2026-014 with one item of every kind waiting for a decision. The app is the real
one (create_app) with CSRF protection ON, as in production: form helpers read the token
from the page like a browser would.

`Hostile` is what the tests use: `api(...)` for raw JSON/any-body calls with a bearer
token, `sign_in(username)` for a browser-like session, `size()` to check that a refused
request wrote nothing, `intact()` for "tables still there and the log verifies".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from domain.services import PMOApplication
from ledger.application import init_ledger
from ledger.keys import PASSPHRASE_ENV
from ledger.verify import DatabaseSource, make_checkpoint, verify_log
from tests.api.conftest import _scenario
from tests.domain.helpers import CODE, FAST_HASH, PEOPLE, PW, enrol_cast
from web.app import create_app
from web.ledger_access import close_ledger, get_pmo

PASSWORD = "hostile-password"
USERS = ["admin"] + [username for username, _, _ in PEOPLE]
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_MISSING = object()


def build_ledger(path: Path) -> dict[str, str]:
    """Initialise the ledger at `path` with the cast and the API template's scenario;
    return every person's bearer token."""
    app, root = init_ledger(f"sqlite:///{path}", PW, app_class=PMOApplication)
    PMOApplication.password_method = FAST_HASH
    try:
        enrol_cast(app, root, passphrase=PW, password=PASSWORD)
        actors = {u: app.actor(u, PW) for u in USERS}
        tokens = {u: app.issue_api_token(actors[u], u, label="hostile")[1] for u in USERS}
        _scenario(app, actors)
        make_checkpoint(app, app.root_signer(PW))
    finally:
        app.close()
    return tokens


@dataclass
class Hostile:
    """The app on one module's ledger, with every person's bearer token."""

    app: Flask
    tokens: dict[str, str]
    path: Path
    code: str = CODE
    start: int = 0  # the log's size when the module's tests began

    # The log --------------------------------------------------------------------------

    @property
    def pmo(self) -> PMOApplication:
        return get_pmo(self.app)

    def size(self) -> int:
        return self.pmo.size()

    def tables(self) -> set[str]:
        rows = self.pmo.recorder.fetch("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in rows}

    def verified(self) -> bool:
        report = verify_log(DatabaseSource(self.pmo), workers=1)
        assert report.ok, report.as_dict()["faults"][:5]
        return True

    # The API ---------------------------------------------------------------------------

    def auth(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.tokens.get(who, who)}"}

    def api(self, method: str, path: str, who: str | None = "pm", *, json_body: Any = _MISSING,
            data: Any = None, headers: dict[str, str] | None = None,
            content_type: str | None = None, query: dict[str, Any] | None = None) -> TestResponse:
        """A raw API call: `json_body` is sent as JSON, `data` as is (bytes/str/form)."""
        url = path if path.startswith("/") else f"/api/v1/{path}"
        kwargs: dict[str, Any] = {"headers": {**self.auth(who), **(headers or {})},
                                  "query_string": query}
        if json_body is not _MISSING:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        if content_type is not None:
            kwargs["content_type"] = content_type
        return self.app.test_client().open(url, method=method, **kwargs)

    # Pages -----------------------------------------------------------------------------

    def sign_in(self, username: str) -> FlaskClient:
        """A fresh browser-like client signed in as `username` (CSRF token included)."""
        client = self.app.test_client()
        token = csrf_token(client, "/signin")
        response = client.post("/signin", data={"username": username, "password": PASSWORD,
                                                "csrf_token": token})
        assert response.status_code == 302, response.data[:300]
        return client

    def submit(self, client: FlaskClient, url: str, data: dict[str, Any],
               form_page: str | None = None) -> TestResponse:
        """POST a form the way a browser does: with the CSRF token of the page it is on."""
        token = csrf_token(client, form_page or url)
        return client.post(url, data={**data, "csrf_token": token})


def csrf_token(client: FlaskClient, page: str) -> str:
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code, response.data[:300])
    match = TOKEN_FIELD.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {page}"
    return match[1]


def error_body(response: TestResponse, status: int | tuple[int, ...]) -> dict[str, Any]:
    """The JSON error of a refused API call: its status, and the {code, message, errors} shape."""
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.data[:400])
    assert response.mimetype == "application/json", response.mimetype
    body = json.loads(response.data)
    assert set(body) >= {"code", "message", "errors"} and body["code"] and body["message"], body
    return body


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """A fresh ledger and app for the whole module (CSRF on, as in production)."""
    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "ledger.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PASSPHRASE_ENV, PW)
        tokens = build_ledger(path)
        app = create_app({"LEDGER_DB": f"sqlite:///{path}", "TESTING": True,
                          "KEY_PASSPHRASE": PW, "PASSWORD_METHOD": FAST_HASH,
                          "SECRET_KEY": "hostile-tests", "WTF_CSRF_ENABLED": True})
        app.instance_path = str(folder)
        try:
            hostile = Hostile(app, tokens, path)
            hostile.start = hostile.size()
            yield hostile
        finally:
            close_ledger(app)
