"""The whole journey in a real browser (Playwright driving Debian's Chromium, headless)
against a real server on 127.0.0.1: a PM charters a project, adds lines and submits an
expenditure with an invoice file; the PM cannot approve it; a fiscal officer approves it
from the queue; an auditor finds it in the log, verifies the ledger and sees the project
as of the day before; a refused form keeps the input and shows the messages.

Screenshots go to test-artifacts/browser/; the README tour's ones are copied to
docs/screenshots/ when missing or when PMO_UPDATE_SCREENSHOTS=1.
Without /usr/bin/chromium the test is skipped locally and fails in CI (CI=true).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from domain import clock
from ledger.keys import PASSPHRASE_ENV
from tests.web.conftest import PW, build_ledger, make_app
from web.ledger_access import close_ledger

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
TOUR = ROOT / "docs" / "screenshots"
TOUR_SHOTS = {"01-portfolio", "03-expenditure-refused", "05-fiscal-queue", "06-signed-approval",
              "07-project", "08-audit-log", "09-verified", "10-as-of"}
CODE = "IT-2026-100"
SUBMIT = "main form.form button[type=submit]"


def _browser_available() -> None:
    missing = None
    if not os.path.exists(CHROMIUM):
        missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests are required in CI: {missing}")
        pytest.skip(missing)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _browser_available()
    mp = pytest.MonkeyPatch()
    mp.setenv(PASSPHRASE_ENV, PW)
    folder = tmp_path_factory.mktemp("browser")
    # The existing portfolio was recorded two days ago (a simulated clock, in this thread only).
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    with clock.simulated(lambda: two_days_ago):
        build_ledger(folder / "ledger.db")
    app = make_app(f"sqlite:///{folder / 'ledger.db'}", folder, TESTING=False, WTF_CSRF_ENABLED=True)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(5)
        close_ledger(app)
        mp.undo()


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield chromium
        finally:
            chromium.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=name not in ("07-project", "08-audit-log"))
    if name in TOUR_SHOTS and (os.environ.get("PMO_UPDATE_SCREENSHOTS") == "1" or not (TOUR / path.name).exists()):
        TOUR.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, TOUR / path.name)


def sign_in(browser, server: str, username: str):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(10000)
    page = context.new_page()
    page.goto(f"{server}/signin")
    page.fill("#username", username)
    page.fill("#password", "demo")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{server}/")
    return page


def fill(page, values: dict[str, str]) -> None:
    for name, value in values.items():
        selector = f"[name={name}]"
        if page.eval_on_selector(selector, "e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)


def test_the_whole_journey(browser, server, tmp_path):
    # The project manager charters a project and adds two budget lines.
    pm = sign_in(browser, server, "pm")
    assert "Pat Manager" in pm.inner_text("#who") and "pm" in pm.inner_text("#who .roles")
    shot(pm, "01-portfolio")
    pm.click("nav a[href='/projects/new']")
    fill(pm, {"code": CODE, "title": "Parking sensors", "sponsor": "Sam Sponsor",
              "project_manager": "Pat Manager", "start_date": "2026-01-05",
              "target_finish_date": "2026-12-18", "fund": "Capital Fund", "capital": "true",
              "objectives": "Fewer cars circling\nLive occupancy map",
              "scope_statement": "Downtown parking sensors and a public map"})
    pm.click(SUBMIT)
    pm.wait_for_url(f"{server}/projects/{CODE}")
    assert "Project IT-2026-100 chartered" in pm.inner_text(".flash")
    for line, category, amount in (("HW-01", "hardware", "40000.00"), ("VS-01", "vendor services", "60000.00")):
        pm.click("text=Add budget line")
        fill(pm, {"line": line, "name": f"{category} budget", "category": category, "amount": amount})
        pm.click(SUBMIT)
        pm.wait_for_url(f"{server}/projects/{CODE}")
    assert "HW-01" in pm.inner_text("#lines") and "VS-01" in pm.inner_text("#lines")

    # A refused expenditure keeps what was typed and says why, field by field.
    pm.click("text=Submit expenditure")
    fill(pm, {"line": "HW-01", "amount": "12.345", "vendor": "SensorCo",
              "invoice_number": "SC-1001", "invoice_date": "2026-02-30", "description": "Sensors batch 1"})
    pm.click(SUBMIT)
    assert pm.is_visible("#form-errors")
    assert pm.input_value("[name=vendor]") == "SensorCo"
    assert pm.input_value("[name=amount]") == "12.345"
    assert pm.locator("[data-field=amount]").count() == 1
    assert pm.locator("[data-field=invoice_date]").count() == 1
    shot(pm, "03-expenditure-refused")

    # Corrected, with the invoice file: its SHA-256 is recorded.
    invoice = tmp_path / "SC-1001.pdf"
    invoice.write_bytes(b"%PDF-1.4 SensorCo invoice SC-1001: 120 sensors\n")
    fill(pm, {"amount": "12,500.00", "invoice_date": "2026-02-27"})
    pm.set_input_files("[name=invoice]", str(invoice))
    shot(pm, "04-expenditure-form")
    pm.click(SUBMIT)
    pm.wait_for_url(f"{server}/projects/{CODE}")
    assert "Expenditure EXP-0001 submitted" in pm.inner_text(".flash")
    digest = hashlib.sha256(invoice.read_bytes()).hexdigest()
    assert digest[:16] in pm.inner_text("#pending-expenditures")

    # The PM cannot approve it: no queue link, and the queue itself is refused.
    assert pm.locator("a[href='/queues/fiscal']").count() == 0
    response = pm.goto(f"{server}/queues/fiscal")
    assert response.status == 403
    pm.context.close()

    # The fiscal officer approves it from the queue and sees the signature manifestation.
    fiscal = sign_in(browser, server, "fiscal")
    fiscal.click("nav a[href='/queues/fiscal']")
    item = fiscal.locator(f"#item-{CODE}-EXP-0001")
    assert "12,500.00" in item.inner_text() and "40,000.00" in item.inner_text() and "27,500.00" in item.inner_text()
    shot(fiscal, "05-fiscal-queue")
    item.locator("input[name=reason]").first.fill("Matches the delivery note")
    item.locator("button.approve").click()
    fiscal.wait_for_selector("#manifestation")
    manifest = fiscal.inner_text("#manifestation")
    assert "Fay Fiscal" in manifest and "approval" in manifest and "UTC" in manifest
    shot(fiscal, "06-signed-approval")
    fiscal.goto(f"{server}/projects/{CODE}")
    assert "12,500.00" in fiscal.inner_text(".cards")
    assert fiscal.locator("#s-curve svg").count() == 1 and fiscal.locator("#budget-chart svg").count() == 1
    shot(fiscal, "07-project")
    fiscal.context.close()

    # The auditor finds it in the log, verifies the ledger, and replays the project.
    auditor = sign_in(browser, server, "auditor")
    auditor.click("nav a[href='/audit/']")
    auditor.click("main a[href='/audit/log']")
    auditor.select_option("#log-filters [name=project]", CODE)
    auditor.fill("#log-filters [name=event]", "ExpenditureApproved")
    auditor.click("#log-filters button")
    log = auditor.inner_text("#log")
    assert "ExpenditureApproved" in log and "Fay Fiscal" in log and "valid" in log
    shot(auditor, "08-audit-log")
    auditor.goto(f"{server}/audit/verify")
    auditor.click("#run-verify")
    auditor.wait_for_selector("#verify-verdict", timeout=30000)
    assert auditor.inner_text("#verify-verdict") == "Clean"
    shot(auditor, "09-verified")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    auditor.goto(f"{server}/audit/projects/{CODE}/as-of?date={yesterday}")
    assert "did not exist" in auditor.inner_text("main")  # chartered today
    auditor.goto(f"{server}/audit/projects/IT-2026-014/as-of?date={yesterday}")
    assert "50,000.00" in auditor.inner_text("#as-of-lines")
    shot(auditor, "10-as-of")
    auditor.goto(f"{server}/audit/projects/{CODE}/as-of?date={datetime.now(UTC).date().isoformat()}")
    assert "12,500.00" in auditor.inner_text("#as-of-spent")
    auditor.context.close()
