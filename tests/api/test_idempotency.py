"""Writes answered once (issue 17 item 5): the `Idempotency-Key` of API writes and form
posts, and the success answer of a write whose event was committed even when something
fails after the commit.

Each test runs on SQLite and on PostgreSQL (the keys live in a side table of the ledger's
database, shared by every gunicorn worker) over a small seeded ledger: the test cast and
two chartered projects (tests/serving.py `seed`), with the real app (`create_app`) not in
testing mode, so an unexpected error is answered as the server would answer it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from domain.project import project_id
from ledger.keys import PASSPHRASE_ENV
from tests.domain.helpers import FAST_HASH
from tests.serving import CODES, PASSWORD, PW, seed
from web import idempotency
from web.app import create_app
from web.ledger_access import close_ledger, get_pmo

CODE = CODES[0]
EXPENDITURES = f"/api/v1/projects/{CODE}/expenditures"


@dataclass
class Site:
    app: Flask
    client: FlaskClient
    tokens: dict[str, str]

    def size(self) -> int:
        return get_pmo(self.app).size()

    def post(self, path: str, who: str, body: Any, key: str | None = None,
             raw: bytes | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token(who)}"}
        if key is not None:
            headers[idempotency.HEADER] = key
        if raw is not None:
            return self.client.post(path, data=raw, headers={**headers, "Content-Type": "application/json"})
        return self.client.post(path, json=body, headers=headers)

    def token(self, who: str) -> str:
        if who not in self.tokens:
            r = self.client.post("/api/v1/tokens", json={"username": who, "password": PASSWORD})
            assert r.status_code == 201, r.get_json()
            self.tokens[who] = r.get_json()["token"]
        return self.tokens[who]

    def sign_in(self, who: str) -> FlaskClient:
        client = self.app.test_client()
        r = client.post("/signin", data={"username": who, "password": PASSWORD})
        assert r.status_code == 302, r.data[:300]
        return client


@pytest.fixture
def site(backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv(PASSPHRASE_ENV, PW)
    seed(backend_url)
    app = create_app({"LEDGER_DB": backend_url, "SECRET_KEY": "idempotency-tests",
                      "KEY_PASSPHRASE": PW, "PASSWORD_METHOD": FAST_HASH,
                      "WTF_CSRF_ENABLED": False, "INTEGRITY_BACKGROUND": False})
    app.instance_path = str(tmp_path)
    try:
        yield Site(app, app.test_client(), {})
    finally:
        close_ledger(app)


def expenditure(n: int | str, amount: str = "10.00") -> dict[str, str]:
    return {"line": "HW-01", "amount": amount, "vendor": "Acme", "invoice_number": f"IDEM-{n}",
            "invoice_date": "2026-03-01", "description": f"idempotency test {n}"}


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert body["code"] == code and body["message"], body
    assert set(body) >= {"code", "message", "errors"}, body
    return body


# The same key, the same body: the same answer, written once ---------------------------------


def test_a_repeated_key_gets_the_first_answer_and_writes_nothing_again(site: Site) -> None:
    before = site.size()
    first = site.post(EXPENDITURES, "pm", expenditure(1), key="k-1")
    assert first.status_code == 201, first.get_json()
    receipt = first.get_json()
    assert receipt["position"] == before + 1 and receipt["status"] == "pending"
    assert idempotency.REPLAYED not in first.headers

    again = site.post(EXPENDITURES, "pm", expenditure(1), key="k-1")
    assert (again.status_code, again.get_json()) == (201, receipt)
    assert again.headers[idempotency.REPLAYED] == "true"
    # The same JSON written differently (key order, spacing) is the same body.
    reordered = json.dumps(dict(reversed(list(expenditure(1).items()))), indent=2).encode()
    third = site.post(EXPENDITURES, "pm", None, key="k-1", raw=reordered)
    assert (third.status_code, third.get_json()) == (201, receipt)
    assert site.size() == before + 1, "a repeat wrote again"

    # Without a key (or with another) the same body is a new write: here a duplicate invoice.
    error(site.post(EXPENDITURES, "pm", expenditure(1)), 409, "duplicate")
    assert site.size() == before + 1


def test_a_decision_repeated_by_its_key_is_not_refused_as_already_decided(site: Site) -> None:
    submitted = site.post(EXPENDITURES, "pm", expenditure(2)).get_json()
    path = f"/api/v1/projects/{CODE}/expenditures/{submitted['id']}/approve"
    first = site.post(path, "fiscal", {"reason": "checked"}, key="approve-once")
    assert first.status_code == 200, first.get_json()
    size = site.size()
    again = site.post(path, "fiscal", {"reason": "checked"}, key="approve-once")
    assert (again.status_code, again.get_json()) == (200, first.get_json())
    assert site.size() == size
    # Without the key the second approval is what it is: refused, the item is decided.
    assert site.post(path, "fiscal", {"reason": "checked"}).status_code == 409


def test_a_reused_key_with_another_body_is_refused(site: Site) -> None:
    assert site.post(EXPENDITURES, "pm", expenditure(3), key="k-3").status_code == 201
    size = site.size()
    body = error(site.post(EXPENDITURES, "pm", expenditure(4), key="k-3"), 422,
                 "idempotency-key-reused")
    assert idempotency.HEADER in body["errors"], body
    # ... or the same body sent to another operation.
    other = f"/api/v1/projects/{CODES[1]}/expenditures"
    error(site.post(other, "pm", expenditure(3), key="k-3"), 422, "idempotency-key-reused")
    assert site.size() == size


def test_keys_are_each_persons_own(site: Site) -> None:
    first = site.post(EXPENDITURES, "pm", expenditure(5), key="shared-key")
    assert first.status_code == 201
    other = site.post(EXPENDITURES, "pm2", expenditure(6), key="shared-key")
    assert other.status_code == 201, other.get_json()
    assert other.get_json()["position"] == first.get_json()["position"] + 1


def test_a_refused_write_does_not_spend_its_key(site: Site) -> None:
    size = site.size()
    no_line = {**expenditure(7), "line": "NO-SUCH-LINE"}
    refusal = site.post(EXPENDITURES, "pm", no_line, key="k-7")
    assert refusal.status_code in (404, 409, 422), refusal.get_json()
    # Nothing was written, so the key is free: the same request is decided again ...
    again = site.post(EXPENDITURES, "pm", no_line, key="k-7")
    assert idempotency.REPLAYED not in again.headers
    assert (again.status_code, again.get_json()) == (refusal.status_code, refusal.get_json())
    # ... and a corrected one may use it.
    assert site.post(EXPENDITURES, "pm", expenditure(7), key="k-7").status_code == 201
    assert site.size() == size + 1


def test_a_key_is_kept_for_24_hours(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    now = idempotency.now()
    first = site.post(EXPENDITURES, "pm", expenditure(8), key="k-8").get_json()
    monkeypatch.setattr(idempotency, "now", lambda: now + idempotency.KEEP_SECONDS - 60)
    assert site.post(EXPENDITURES, "pm", expenditure(8), key="k-8").get_json() == first
    monkeypatch.setattr(idempotency, "now", lambda: now + idempotency.KEEP_SECONDS + 60)
    late = site.post(EXPENDITURES, "pm", expenditure(8), key="k-8")
    error(late, 409, "duplicate")  # forgotten: decided afresh (a duplicate invoice by now)


def test_a_malformed_key_is_a_validation_error(site: Site) -> None:
    size = site.size()
    for key in ("", "x" * 256, "has space", "tab\there"):
        body = error(site.post(EXPENDITURES, "pm", expenditure(9), key=key), 422, "validation")
        assert idempotency.HEADER in body["errors"], body
    assert site.size() == size


def test_without_a_token_the_answer_is_401_key_or_not(site: Site) -> None:
    r = site.client.post(EXPENDITURES, json=expenditure(10), headers={idempotency.HEADER: "k-10"})
    error(r, 401, "unauthorised")


# A key whose first request has not answered yet ------------------------------------------------


def _claim_as(site: Site, person: str, key: str, body: Any, owner: str,
              events: list[tuple[str, int, str]] | None = None, path: str = EXPENDITURES) -> None:
    """A pending claim of `key` as if another process had taken it for `body` at `path`."""
    with site.app.test_request_context(path, method="POST", json=body):
        claims = idempotency.Claims(get_pmo(site.app))
        claims.ensure_table()
        fingerprint = idempotency.fingerprint_of_request()
    claims.insert(person, key, fingerprint, owner=owner, at=idempotency.now())
    if events is not None:
        claims.attempting(person, key, owner, events)


def _dead_owner() -> str:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return idempotency.owner_of(int(done.stdout))


def test_a_key_whose_request_is_in_flight_is_409_with_retry_after(site: Site) -> None:
    size = site.size()
    # Held by another process that runs (this one's parent, say).
    _claim_as(site, "pm", "busy", expenditure(11), owner=idempotency.owner_of(os.getppid()))
    r = site.post(EXPENDITURES, "pm", expenditure(11), key="busy")
    error(r, 409, "idempotency-key-in-use")
    assert int(r.headers["Retry-After"]) >= 1
    assert site.size() == size


def test_a_key_left_by_a_dead_process_that_wrote_nothing_is_taken_over(site: Site) -> None:
    size = site.size()
    _claim_as(site, "pm", "orphan", expenditure(12), owner=_dead_owner())
    r = site.post(EXPENDITURES, "pm", expenditure(12), key="orphan")
    assert r.status_code == 201, r.get_json()
    assert site.size() == size + 1


def test_a_key_left_by_a_dead_process_after_its_commit_answers_with_the_receipt(site: Site) -> None:
    # The dead process got as far as the commit: its event is in the log.
    pmo = get_pmo(site.app)
    actor = pmo.actor("pm", PW)
    item = pmo.submit_expenditure(actor, CODE, **{**expenditure(13), "amount": "10.00"})
    size = site.size()
    project = pmo.repository.get(project_id(CODE))
    (row,) = pmo.read_chain(size, size)
    _claim_as(site, "pm", "interrupted", expenditure(13), owner=_dead_owner(),
              events=[(str(project.id), project.version, idempotency.state_digest(row.state))])
    r = site.post(EXPENDITURES, "pm", expenditure(13), key="interrupted")
    assert r.status_code == 201, r.get_json()
    # Answered from the log (the first process died before it could answer): no receipt
    # of its save survives to be given, only the position the log shows.
    assert r.get_json() == {"id": item, "status": "recorded", "position": size, "receipt": None}
    assert site.size() == size, "written again"
    again = site.post(EXPENDITURES, "pm", expenditure(13), key="interrupted")
    assert again.get_json() == r.get_json() and again.headers[idempotency.REPLAYED] == "true"


def test_a_key_left_by_a_dead_process_whose_version_another_writer_took_is_decided_afresh(
        site: Site) -> None:
    """The dead process meant to write version N of the project; it did not, and another
    request's event is version N now: that is no receipt of this key's request."""
    pmo = get_pmo(site.app)
    version = pmo.repository.get(project_id(CODE)).version + 1
    _claim_as(site, "pm", "version-taken", expenditure(18), owner=_dead_owner(),
              events=[(str(project_id(CODE)), version, "0" * 64)])
    other = site.post(EXPENDITURES, "pm2", expenditure(19))  # takes version N
    assert other.status_code == 201
    size = site.size()
    r = site.post(EXPENDITURES, "pm", expenditure(18), key="version-taken")
    assert r.status_code == 201 and r.get_json()["status"] == "pending", r.get_json()
    assert r.get_json()["position"] == size + 1 and site.size() == size + 1


def test_a_key_the_database_failed_to_release_is_released_by_the_next_write(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from eventsourcing.persistence import OperationalError

    release = idempotency.Claims.release
    calls: list[str] = []

    def failing_once(self: idempotency.Claims, *args: Any) -> None:
        calls.append("release")
        if len(calls) == 1:
            raise OperationalError("the database went away just then")
        release(self, *args)

    monkeypatch.setattr(idempotency.Claims, "release", failing_once)
    no_line = {**expenditure(20), "line": "NO-SUCH-LINE"}
    assert site.post(EXPENDITURES, "pm", no_line, key="k-20").status_code in (404, 409, 422)
    with site.app.app_context():
        assert idempotency.claims(site.app).find("pm", "k-20") is not None, "left pending"
    site.post(EXPENDITURES, "pm", expenditure(21))  # any write of this process finishes it
    with site.app.app_context():
        assert idempotency.claims(site.app).find("pm", "k-20") is None
    assert calls == ["release", "release"]


# The receipt ------------------------------------------------------------------------------------


def test_the_receipt_is_the_requests_own_event_though_another_follows_at_once(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import g

    from domain.services import PMOApplication

    item = site.post(EXPENDITURES, "pm", expenditure(17)).get_json()["id"]
    approve = PMOApplication.approve_expenditure

    def approve_then_another_reverses(self: PMOApplication, actor: Any, code: str, item: str,
                                      **kwargs: Any) -> Any:
        result = approve(self, actor, code, item, **kwargs)
        watching = g.pop(idempotency._WATCH)  # another request's write, between ours and its receipt
        try:
            self.reverse_expenditure(self.actor("fiscal2", PW), code, item, reason="wrong invoice")
        finally:
            g.setdefault(idempotency._WATCH, watching)
        return result

    monkeypatch.setattr(PMOApplication, "approve_expenditure", approve_then_another_reverses)
    r = site.post(f"/api/v1/projects/{CODE}/expenditures/{item}/approve", "fiscal", {"reason": "ok"})
    assert r.status_code == 200, r.get_json()
    position = r.get_json()["position"]
    assert position == site.size() - 1, "the receipt named the reversal that followed"
    (row,) = get_pmo(site.app).read_chain(position, position)
    assert row.topic.endswith("ExpenditureApproved")


# A failure after the commit --------------------------------------------------------------------


def test_a_failure_reading_the_receipt_after_the_commit_answers_with_the_receipt(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    import web.api.projects as projects

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the receipt could not be read")

    monkeypatch.setattr(projects, "event_receipt", broken)
    size = site.size()
    r = site.post(EXPENDITURES, "pm", expenditure(14), key="k-14")
    assert r.status_code == 201, (r.status_code, r.data[:500])
    receipt = r.get_json()
    assert {k: receipt[k] for k in ("id", "status", "position")} == {
        "id": receipt["id"], "status": "recorded", "position": size + 1}
    assert receipt["receipt"]["position"] == size + 1  # the save's own receipt, kept
    assert receipt["id"].startswith("EXP-")
    assert site.size() == size + 1
    # The key remembers that answer.
    assert site.post(EXPENDITURES, "pm", expenditure(14), key="k-14").get_json() == receipt
    # Without a key too: the success, not a 500.
    r = site.post(EXPENDITURES, "pm", expenditure(15))
    assert r.status_code == 201 and r.get_json()["position"] == size + 2


def test_the_ledger_closed_under_a_committed_request_answers_with_the_receipt(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a worker's exit did to requests in flight: the pool closed after the commit."""
    from domain.services import PMOApplication

    submit = PMOApplication.submit_expenditure

    def submit_then_close(self: PMOApplication, *args: Any, **kwargs: Any) -> Any:
        result = submit(self, *args, **kwargs)
        self.close()  # as close_ledger at a worker's exit: every later read fails
        return result

    monkeypatch.setattr(PMOApplication, "submit_expenditure", submit_then_close)
    url = site.app.config["LEDGER_DB"]
    size = site.size()
    r = site.post(EXPENDITURES, "pm", expenditure(16))
    assert r.status_code == 201, (r.status_code, r.data[:500])
    assert r.get_json()["position"] in (size + 1, None)
    close_ledger(site.app)
    from ledger.application import ledger_size

    assert ledger_size(url) == size + 1


# Forms -----------------------------------------------------------------------------------------


RISK_FORM = f"/projects/{CODE}/act/risk"
RISK = {"title": "Vendor late", "probability": "3", "impact": "4", "owner": "Pat Manager",
        "mitigation": "Second vendor"}


def _form_key(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.data[:300]
    found = re.search(rf'name="{idempotency.FORM_FIELD}" value="([^"]+)"', page.get_data(as_text=True))
    assert found, "the form carries no idempotency key"
    return found.group(1)


def test_a_form_posted_twice_is_recorded_once(site: Site) -> None:
    pm = site.sign_in("pm")
    key = _form_key(pm, RISK_FORM)
    assert key != _form_key(pm, RISK_FORM), "one key per rendered form"
    size = site.size()
    first = pm.post(RISK_FORM, data={**RISK, idempotency.FORM_FIELD: key})
    assert first.status_code == 302, first.data[:500]
    again = pm.post(RISK_FORM, data={**RISK, idempotency.FORM_FIELD: key})
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    assert site.size() == size + 1
    # The same key with other fields is refused.
    changed = pm.post(RISK_FORM, data={**RISK, "title": "Other", idempotency.FORM_FIELD: key})
    assert changed.status_code == 422 and b"idempotency-key-reused" in changed.data
    assert site.size() == size + 1


def test_a_form_whose_answer_fails_after_the_commit_still_succeeds(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    import web.pages.pm as pm_pages

    def broken_flash(*_: Any, **__: Any) -> None:
        raise RuntimeError("the session store failed")

    monkeypatch.setattr(pm_pages, "flash", broken_flash)
    pm = site.sign_in("pm")
    size = site.size()
    r = pm.post(RISK_FORM, data={**RISK, idempotency.FORM_FIELD: _form_key(pm, RISK_FORM)})
    assert r.status_code in (302, 303), (r.status_code, r.data[:500])
    assert r.headers["Location"].endswith(f"/projects/{CODE}")
    assert site.size() == size + 1


# The OpenAPI document --------------------------------------------------------------------------


def test_the_openapi_document_offers_the_header_on_every_write_that_records(site: Site) -> None:
    doc = site.client.get("/api/v1/openapi.json").get_json()
    writes = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("post", "put", "patch", "delete"):
                continue
            names = [p.get("$ref", "").rsplit("/", 1)[-1] or p.get("name")
                     for p in op.get("parameters", [])]
            keyed = "IdempotencyKey" in names
            assert keyed == (not path.startswith("/api/v1/tokens")), (method, path)
            writes += keyed
    assert writes >= 30
    param = doc["components"]["parameters"]["IdempotencyKey"]
    assert param["in"] == "header" and param["name"] == idempotency.HEADER
    assert not param.get("required")

