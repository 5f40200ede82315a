"""Faults seen while serving (issue 16, item 3), on SQLite and on PostgreSQL.

An insider changes one payload byte of a stored event. The running app must notice:
every page shows a banner naming the first faulty position, every API answer carries
`Ledger-Integrity: fault; position=N`, every write is refused with 503 `ledger-fault` and
writes nothing, and the read models never take in a position that failed. Start-up resumes
from the last position verified clean (ledger/integrity.py keeps it in `ledger_integrity`),
after checking that the chain hash there is still the one verified; a tamper further back
is found by the background checks. `report`, `replay` and `compliance` exit 1 naming the
fault unless given --allow-faults; `projections rebuild` stops before it and says so.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from domain.project import project_id
from domain.readmodels import ReadModels
from domain.services import PMOApplication
from ledger import integrity
from ledger.application import init_ledger, ledger_size, open_ledger
from ledger.keys import PASSPHRASE_ENV
from ledger.verify import Fault
from tests.domain.helpers import FAST_HASH
from tests.serving import seed, wait_for
from tests.support import chain_row, flip_payload_byte, set_chain_column
from web.app import create_app
from web.cli import cli
from web.ledger_access import close_ledger, get_pmo, get_read_models

pytestmark = pytest.mark.slow  # started first: see tests/conftest.py

PW = "integrity-serving-passphrase"
PASSWORD = "demo-password"
CODE = "IT-2026-716"
CAST = [("pm", "Pat Manager", "pm"), ("fiscal", "Fay Fiscal", "fiscal"),
        ("auditor", "Otto Auditor", "auditor")]
GOOD, FORGED = b'"2500.00"', b'"9500.00"'  # the expenditure's amount, and the insider's
BANNER = re.compile(r'id="ledger-fault"')


# A small ledger: the cast, one project with a budget line -----------------------------------


def build(url: str) -> None:
    seed(url, passphrase=PW, password=PASSWORD, codes=(CODE,), people=CAST, amount="50000.00")


def submit_behind_the_app(url: str, amount: str = "2500.00", invoice: str = "INV-1") -> int:
    """An expenditure recorded by another process (its own application): its position."""
    app = open_ledger(url, app_class=PMOApplication)
    try:
        pm = app.actor("pm", PW)
        app.submit_expenditure(pm, CODE, line="HW-01", amount=amount, vendor="Acme",
                               invoice_number=invoice, invoice_date=date(2026, 3, 2),
                               description="kiosk racks")
        return app.size()
    finally:
        app.close()


def tamper(url: str, position: int, old: bytes = GOOD, new: bytes = FORGED) -> None:
    """The insider: one payload byte changed in the database, nothing else."""
    app = open_ledger(url)
    try:
        flip_payload_byte(app, position, old, new)
    finally:
        app.close()


@dataclass
class Web:
    url: str
    app: Flask
    tokens: dict[str, dict[str, str]]

    def client(self, username: str | None = None) -> FlaskClient:
        client = self.app.test_client()
        if username is not None:
            r = client.post("/signin", data={"username": username, "password": PASSWORD})
            assert r.status_code == 302, r.data[:300]
        return client

    def token(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            r = self.app.test_client().post("/api/v1/tokens",
                                            json={"username": username, "password": PASSWORD})
            assert r.status_code == 201, r.get_json()
            self.tokens[username] = {"Authorization": f"Bearer {r.get_json()['token']}"}
        return self.tokens[username]

    def monitor(self) -> integrity.IntegrityMonitor:
        return integrity.monitor_for(get_pmo(self.app))

    def size(self) -> int:
        return ledger_size(self.url)


@pytest.fixture
def make_web(backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Builds the ledger; `make_web(**config)` then starts the web app on it (as often as
    a test restarts it). Background sweeps are off unless a test turns them on."""
    monkeypatch.setenv(PASSPHRASE_ENV, PW)
    monkeypatch.setattr(PMOApplication, "password_method", FAST_HASH)
    build(backend_url)
    apps: list[Flask] = []

    def make(**config: Any) -> Web:
        settings = {"LEDGER_DB": backend_url, "SECRET_KEY": "integrity-tests", "TESTING": True,
                    "WTF_CSRF_ENABLED": False, "PASSWORD_METHOD": FAST_HASH,
                    "INTEGRITY_SWEEP_SECONDS": 0, "INTEGRITY_FULL_VERIFY_SECONDS": 86400}
        settings.update(config)
        app = create_app(settings)
        app.instance_path = str(tmp_path)
        apps.append(app)
        return Web(backend_url, app, {})

    yield make
    for app in apps:
        close_ledger(app)


def banner_position(html: bytes) -> int | None:
    """The position the integrity banner names (None: no banner)."""
    text = html.decode()
    found = re.search(r'<div[^>]*id="ledger-fault"[^>]*data-position="(\d+)"', text)
    return int(found.group(1)) if found else None


# The web app ----------------------------------------------------------------------------------


def test_a_changed_payload_byte_is_shown_to_every_role_refuses_writes_and_stays_out_of_the_read_models(
        make_web: Any, backend_url: str) -> None:
    position = submit_behind_the_app(backend_url)
    tamper(backend_url, position)
    web = make_web()

    for username in ("pm", "fiscal", "auditor"):
        page = web.client(username).get("/")
        assert page.status_code == 200, page.data[:500]
        assert banner_position(page.data) == position, (username, page.data[:2000])
        assert f"position {position}".encode() in page.data
        assert b"9,500.00" not in page.data and b"9500.00" not in page.data
    auditor_page = web.client("auditor").get("/").data.decode()
    assert f'href="/audit/events/{position}"' in auditor_page  # the auditor may open it

    # The API: every answer says so, reads and refusals alike.
    answer = web.app.test_client().get(f"/api/v1/projects/{CODE}/budget", headers=web.token("fiscal"))
    assert answer.status_code == 200
    assert answer.headers["Ledger-Integrity"] == f"fault; position={position}"
    assert "9500.00" not in answer.get_data(as_text=True)

    before = web.size()
    refused = web.app.test_client().post(
        f"/api/v1/projects/{CODE}/expenditures", headers=web.token("pm"),
        json={"line": "HW-01", "amount": "10.00", "vendor": "Acme", "invoice_number": "INV-9",
              "invoice_date": "2026-03-03", "description": "refused"})
    body = refused.get_json()
    assert refused.status_code == 503 and body["code"] == "ledger-fault", body
    assert str(position) in body["message"] and body["errors"] == {}
    assert refused.headers["Ledger-Integrity"] == f"fault; position={position}"
    page = web.client("pm").post(f"/projects/{CODE}/act/expenditure", data={
        "line": "HW-01", "amount": "10.00", "vendor": "Acme", "invoice_number": "INV-10",
        "invoice_date": "2026-03-03", "description": "refused"})
    assert page.status_code == 503 and b"integrity fault" in page.data
    assert banner_position(page.data) == position
    assert web.size() == before, "a refused write wrote to the log"

    # The read models stop before the faulty position.
    models = get_read_models(web.app)
    assert models.position() == position - 1
    rows = models.store.fetch("SELECT * FROM {lines}") + models.store.fetch("SELECT * FROM {projects}")
    assert "9500" not in repr(rows) and "2500" not in repr(rows)
    fault = web.monitor().fault
    assert fault is not None and fault.position == position


def test_a_clean_ledger_says_ok_and_the_apps_own_write_is_verified_and_shown_at_once(
        make_web: Any) -> None:
    web = make_web()
    pm = web.token("pm")
    api = web.app.test_client()
    first = api.get(f"/api/v1/projects/{CODE}", headers=pm)
    assert first.status_code == 200 and first.headers["Ledger-Integrity"] == "ok"
    assert banner_position(web.client("pm").get("/").data) is None
    written = api.post(f"/api/v1/projects/{CODE}/expenditures", headers=pm, json={
        "line": "HW-01", "amount": "1234.00", "vendor": "Acme", "invoice_number": "INV-2",
        "invoice_date": "2026-03-03", "description": "racks"})
    assert written.status_code == 201, written.get_json()
    budget = api.get(f"/api/v1/projects/{CODE}/budget", headers=pm).get_data(as_text=True)
    assert "1234.00" in budget  # the writer sees their own write on the next answer
    assert web.monitor().verified == web.size()  # verified before it entered the read models


def test_a_tamper_with_a_new_position_while_running_is_caught_before_it_is_projected(
        make_web: Any, backend_url: str) -> None:
    web = make_web()
    pm = web.client("pm")
    assert banner_position(pm.get("/").data) is None
    position = submit_behind_the_app(backend_url)  # another worker's write...
    tamper(backend_url, position)  # ...changed before this one read it
    page = pm.get("/")
    assert banner_position(page.data) == position
    assert get_read_models(web.app).position() == position - 1


def test_key_events_that_arrive_while_running_are_used_for_what_follows(
        make_web: Any, backend_url: str) -> None:
    web = make_web()
    pm = web.client("pm")
    assert banner_position(pm.get("/").data) is None
    app = open_ledger(backend_url, app_class=PMOApplication)
    try:  # another worker: pm's key reissued (a registration, a revocation), then used
        app.reissue_key(app.actor("admin", PW), "pm", passphrase=PW, reason="laptop stolen")
        app.submit_expenditure(app.actor("pm", PW), CODE, line="HW-01", amount="42.00",
                               vendor="Acme", invoice_number="INV-K", invoice_date=date(2026, 3, 2),
                               description="with the new key")
    finally:
        app.close()
    page = pm.get("/")
    assert banner_position(page.data) is None, web.monitor().faults
    assert web.monitor().verified == web.size()
    assert get_read_models(web.app).position() == web.size()


def test_a_first_start_without_a_remembered_position_verifies_from_1_in_parallel(
        faulty: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    url, position = faulty
    monkeypatch.setattr(integrity, "PARALLEL_THRESHOLD", 1)  # (the demo's 11,089 take this path)
    app = open_ledger(url, app_class=PMOApplication)
    try:
        monitor = integrity.IntegrityMonitor(app)
        monitor.start(workers=2)
        assert monitor.resumed_from == 0 and monitor.fault is not None
        assert (monitor.fault.position, monitor.fault.kind) == (position, "bad-signature")
        assert monitor.verified == monitor.bound() == position - 1
        assert integrity.remembered(app) is None  # a faulty log's position is not remembered
    finally:
        app.close()


def test_a_fault_the_snapshot_loader_reports_is_shown_and_refuses_writes(make_web: Any) -> None:
    web = make_web()
    pm = web.client("pm")
    assert banner_position(pm.get("/").data) is None
    pmo = get_pmo(web.app)
    pmo.integrity_faults.add(Fault(7, None, None, "snapshot-mismatch", "a forged snapshot was dropped"))
    assert banner_position(pm.get("/").data) == 7
    refused = web.app.test_client().post(f"/api/v1/projects/{CODE}/budget-lines", headers=web.token("pm"),
                                         json={"line": "SW-01", "category": "software", "amount": "5.00"})
    assert refused.status_code == 503 and refused.get_json()["code"] == "ledger-fault"
    assert refused.headers["Ledger-Integrity"] == "fault; position=7"
    # Signing in, and revoking a token (a stolen one, say), still work: neither writes
    # to the log.
    api = web.app.test_client()
    issued = api.post("/api/v1/tokens", json={"username": "fiscal", "password": PASSWORD})
    assert issued.status_code == 201, issued.get_json()
    size = web.size()
    revoked = api.delete(f"/api/v1/tokens/{issued.get_json()['token_id']}",
                         headers={"Authorization": f"Bearer {issued.get_json()['token']}"})
    assert revoked.status_code == 204, revoked.get_data(as_text=True)
    assert web.size() == size


# Start-up: from the remembered position, then the background checks ----------------------------


def remembered(url: str) -> tuple[int, bytes]:
    app = open_ledger(url)
    try:
        return integrity.remembered(app) or (0, b"")
    finally:
        app.close()


def test_start_up_resumes_from_the_remembered_position_and_checks_its_hash(
        make_web: Any, backend_url: str) -> None:
    first = make_web()
    assert banner_position(first.client("pm").get("/").data) is None
    size = first.size()
    assert remembered(backend_url) == (size, chain_row_hash(backend_url, size))
    close_ledger(first.app)

    # Nothing changed: the next start verifies from there, not from 1.
    again = make_web()
    assert banner_position(again.client("pm").get("/").data) is None
    assert again.monitor().resumed_from == size
    close_ledger(again.app)

    # The insider rewrote the chain hash at the remembered position (say, to re-chain a
    # forged payload): the next start names that position, then verifies from 1.
    app = open_ledger(backend_url)
    try:
        set_chain_column(app, size, "chain_hash", bytes(32))
    finally:
        app.close()
    third = make_web()
    assert banner_position(third.client("fiscal").get("/").data) == size
    fault = third.monitor().fault
    assert fault is not None and fault.kind == "remembered-hash-mismatch"
    assert third.monitor().resumed_from == 0


def test_a_tamper_behind_the_remembered_position_is_found_by_the_full_verification(
        make_web: Any, backend_url: str) -> None:
    position = submit_behind_the_app(backend_url)
    first = make_web()
    assert banner_position(first.client("pm").get("/").data) is None
    assert remembered(backend_url)[0] == first.size()
    close_ledger(first.app)

    tamper(backend_url, position)  # the chain hashes are left alone: start-up sees nothing
    web = make_web(INTEGRITY_FULL_VERIFY_SECONDS=0.5)
    pm = web.client("pm")
    assert web.monitor().resumed_from == web.size()
    wait_for(lambda: banner_position(pm.get("/").data) == position, 15,
               "the background full verification to report the position")
    kinds = {f.kind for f in web.monitor().faults if f.position == position}
    assert "bad-signature" in kinds
    assert web.monitor().full_verifications >= 1


def test_a_tamper_behind_the_remembered_position_is_found_by_the_sweep_within_seconds(
        make_web: Any, backend_url: str) -> None:
    position = submit_behind_the_app(backend_url)
    web = make_web(INTEGRITY_SWEEP_SECONDS=0.3)
    pm = web.client("pm")
    assert banner_position(pm.get("/").data) is None
    tamper(backend_url, position)  # while it runs, an old position: its head is unchanged
    started = time.monotonic()
    wait_for(lambda: banner_position(pm.get("/").data) == position, 10,
               "the sweep to report the changed position")
    assert time.monotonic() - started < 10
    assert web.monitor().full_verifications == 0  # found by the sweep alone


def test_the_full_verification_runs_one_at_a_time(backend_url: str, passphrase: str) -> None:
    app, _ = init_ledger(backend_url, passphrase)
    other = open_ledger(backend_url)
    try:
        a, b = integrity.IntegrityMonitor(app), integrity.IntegrityMonitor(other)
        assert a.claim_full_verification() is True
        assert b.claim_full_verification() is False  # another process holds it
        a.release_full_verification()
        assert b.claim_full_verification() is True
        b.release_full_verification()
    finally:
        other.close()
        app.close()


def chain_row_hash(url: str, position: int) -> bytes:
    app = open_ledger(url)
    try:
        return chain_row(app, position).chain_hash
    finally:
        app.close()


# The command line ----------------------------------------------------------------------------


@pytest.fixture
def faulty(backend_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    monkeypatch.setenv(PASSPHRASE_ENV, PW)
    monkeypatch.setattr(PMOApplication, "password_method", FAST_HASH)
    build(backend_url)
    position = submit_behind_the_app(backend_url)
    submit_behind_the_app(backend_url, "3000.00", "INV-2")  # after it: never projected
    tamper(backend_url, position)
    return backend_url, position


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("command", [
    ("report", "portfolio"), ("report", "budget", CODE), ("report", "variance"),
    ("replay", CODE, "--position", "{clean}"), ("compliance",),
])
def test_reports_exit_1_naming_the_fault_unless_allowed(faulty: tuple[str, int], command: tuple) -> None:
    url, position = faulty
    command = tuple(a.replace("{clean}", str(position - 1)) for a in command)
    refused = run(*command, "--db", url)
    assert refused.exit_code == 1, refused.output
    assert f"position {position}" in refused.stderr and "bad-signature" in refused.stderr
    assert "--allow-faults" in refused.stderr
    assert "9500" not in refused.stdout

    allowed = run(*command, "--db", url, "--allow-faults")
    assert allowed.exit_code == 0, allowed.stderr
    assert allowed.stderr.count("warning: ") >= 1 and f"position {position}" in allowed.stderr
    if command[0] == "report":
        assert "9500" not in allowed.stdout and "3000" not in allowed.stdout


def test_a_clean_ledger_reports_without_a_warning(backend_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, PW)
    build(backend_url)
    done = run("report", "budget", CODE, "--db", backend_url)
    assert done.exit_code == 0 and "warning" not in done.stderr, done.stderr
    assert remembered(backend_url)[0] == ledger_size(backend_url)  # the next run starts there


def test_the_rebuild_stops_before_the_faulty_position_and_says_so(faulty: tuple[str, int]) -> None:
    url, position = faulty
    done = run("projections", "rebuild", "--db", url)
    assert done.exit_code == 1, done.output
    assert f"position {position}" in done.stderr and "bad-signature" in done.stderr
    status = run("projections", "status", "--db", url, "--json")
    assert f'"read_models_at": {position - 1}' in status.stdout, status.output


def test_the_read_models_of_a_library_user_refuse_to_answer_past_a_fault(faulty: tuple[str, int]) -> None:
    from domain.readmodels.store import ReadModelError

    url, position = faulty
    app = open_ledger(url, app_class=PMOApplication)
    try:
        models = ReadModels(app)
        with pytest.raises(ReadModelError, match=f"position {position}"):
            models.catch_up()
        assert models.position() == position - 1
        quiet = ReadModels(app, on_fault="stop")
        quiet.catch_up()
        assert quiet.position() == position - 1
    finally:
        app.close()


# A real server --------------------------------------------------------------------------------


def test_a_served_app_shows_the_banner_within_seconds_of_a_tamper(backend_url: str, tmp_path: Path) -> None:
    from tests.serving import CODES, Served, seed
    from tests.serving import PASSWORD as SERVE_PASSWORD

    seed(backend_url)
    app = open_ledger(backend_url)
    try:
        target = project_id(CODES[0])
        (position,) = [r.position for r in app.read_chain(1, app.size())
                       if r.originator_id == str(target) and (r.topic or "").endswith("BudgetLineAdded")]
    finally:
        app.close()
    with Served.launch(backend_url, tmp_path) as server:
        server.sign_in("pm", SERVE_PASSWORD)
        assert banner_position(server.request("GET", "/", cookies=True).body) is None
        pm = server.token("pm")
        assert server.request("GET", "/api/v1/projects", headers=pm).headers["Ledger-Integrity"] == "ok"

        tamper(backend_url, position, b'"900000.00"', b'"990000.00"')
        tampered = time.monotonic()
        streak: list[int | None] = []

        def shown() -> bool:  # each request a new connection: both workers answer in turn
            streak.append(banner_position(server.request("GET", "/", cookies=True).body))
            return streak[-6:] == [position] * 6

        wait_for(shown, 20, "every worker to show the banner")
        assert time.monotonic() - tampered < 20
        answer = server.request("GET", "/api/v1/projects", headers=pm)
        assert answer.headers["Ledger-Integrity"] == f"fault; position={position}"
        size = ledger_size(backend_url)
        refused = server.request("POST", f"/api/v1/projects/{CODES[0]}/expenditures", headers=pm,
                                 json_body={"line": "HW-01", "amount": "10.00", "vendor": "Acme",
                                            "invoice_number": "INV-1", "invoice_date": "2026-03-01",
                                            "description": "refused"})
        assert refused.status == 503 and refused.json()["code"] == "ledger-fault", refused.text
        assert ledger_size(backend_url) == size
    assert "Traceback" not in server.log(), server.log()[-3000:]


def test_serve_starts_on_a_tampered_ledger_and_shows_the_banner_at_once(backend_url: str, tmp_path: Path) -> None:
    from tests.serving import CODES, Served, seed
    from tests.serving import PASSWORD as SERVE_PASSWORD

    seed(backend_url)
    app = open_ledger(backend_url)
    try:
        (position,) = [r.position for r in app.read_chain(1, app.size())
                       if r.originator_id == str(project_id(CODES[1]))
                       and (r.topic or "").endswith("BudgetLineAdded")]
    finally:
        app.close()
    tamper(backend_url, position, b'"900000.00"', b'"990000.00"')
    with Served.launch(backend_url, tmp_path) as server:  # it starts: the banner says why
        server.sign_in("fiscal", SERVE_PASSWORD)
        for _ in range(4):
            page = server.request("GET", "/", cookies=True)
            assert page.status == 200 and banner_position(page.body) == position
            assert b"990,000.00" not in page.body
    assert "Traceback" not in server.log(), server.log()[-3000:]


def test_an_old_act_resigned_and_relinked_while_running_is_seen_at_once_and_located_within_seconds(
        make_web: Any, backend_url: str) -> None:
    """The insider re-signs an old approval with another person's valid key (held by the
    server) and re-links every later position: every signature and link holds, so the sweep
    sees nothing; the head's chain hash has changed, which the next request notices at
    once, and the full verification that follows names the act (issue 16)."""
    from tests.support import resign

    position = submit_behind_the_app(backend_url)
    submit_behind_the_app(backend_url, invoice="INV-2")  # a later position to re-link
    web = make_web(INTEGRITY_SWEEP_SECONDS=0.3)
    pm = web.client("pm")
    assert banner_position(pm.get("/").data) is None
    # The first full verification has run: the next is a day away.
    wait_for(lambda: web.monitor().full_verifications >= 1, 30, "the first full verification")
    app = open_ledger(backend_url, app_class=PMOApplication)
    try:
        resign(app, position, app.actor("auditor", PW).signer)
    finally:
        app.close()
    assert banner_position(pm.get("/").data) is not None  # the head moved: at once
    assert pm.post(f"/projects/{CODE}/act/risk", data={"title": "x"}).status_code == 503
    wait_for(lambda: banner_position(pm.get("/").data) == position, 15,
               "the full verification to name the re-signed act")
    assert (position, "actor-key-mismatch") in {(f.position, f.kind) for f in web.monitor().faults}
