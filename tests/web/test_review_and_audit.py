"""Review queues, the auditor's console and the reports."""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from datetime import date

from ledger.verify import make_checkpoint
from tests.support import flip_signature_byte, set_chain_column, snapshot_of_tables
from tests.web.conftest import CODE, PW, text_of


def test_the_fiscal_queue_shows_balances_and_history_and_approves_with_a_manifestation(site):
    client = site.sign_in("fiscal")
    page = text_of(client.get("/queues/fiscal").data)
    assert "expenditure EXP-0001" in page and "2,500.00" in page
    # HW-01: 50,000 available before, 47,500 after
    assert "50,000.00" in page and "47,500.00" in page
    assert "Acme Servers" in page
    assert "transfer TR-001" in page
    before = site.size()
    response = client.post(f"/queues/fiscal/expenditure/{CODE}/EXP-0001/approve", data={"reason": "matches PO"})
    assert response.status_code == 302
    assert site.size() == before + 1
    receipt = client.get(response.location)
    html = receipt.get_data(as_text=True)
    assert receipt.status_code == 200
    assert 'class="signer">Fay Fiscal<' in html
    assert 'class="meaning">approval<' in html
    assert " UTC" in text_of(receipt.data)
    assert site.pmo.project(CODE).expenditure("EXP-0001")["status"] == "approved"
    assert "EXP-0001" not in text_of(client.get("/queues/fiscal").data)
    # a receipt is only for its signer
    assert site.as_user("fiscal2").get(response.location).status_code == 403


def test_a_rejection_needs_a_reason_and_writes_nothing_without_one(site):
    client = site.sign_in("fiscal")
    before = site.size()
    response = client.post(f"/queues/fiscal/transfer/{CODE}/TR-001/reject", data={"reason": "  "})
    assert response.status_code == 422
    assert "reason" in text_of(response.data)
    assert site.size() == before
    response = client.post(f"/queues/fiscal/transfer/{CODE}/TR-001/reject", data={"reason": "not this quarter"})
    assert response.status_code == 302
    assert site.pmo.project(CODE).transfer("TR-001")["status"] == "rejected"


def test_a_domain_refusal_in_the_queue_is_shown_with_the_item(site):
    pm = site.pmo.actor("pm", PW)
    site.pmo.submit_expenditure(pm, CODE, line="HW-01", amount="20000.00", vendor="Big Iron",
                                invoice_number="BI-1", invoice_date=date(2025, 5, 1),
                                description="rack")
    site.pmo.submit_expenditure(pm, CODE, line="HW-01", amount="24000.00", vendor="Big Iron",
                                invoice_number="BI-2", invoice_date=date(2025, 5, 2),
                                description="rack 2")
    client = site.sign_in("fiscal")
    assert client.post(f"/queues/fiscal/expenditure/{CODE}/EXP-0002/approve", data={}).status_code == 302
    site.sign_in("fiscal2", client)
    assert client.post(f"/queues/fiscal/expenditure/{CODE}/EXP-0003/approve", data={}).status_code == 302
    site.sign_in("fiscal", client)
    before = site.size()
    response = client.post(f"/queues/fiscal/expenditure/{CODE}/EXP-0001/approve", data={"reason": "ok"})
    # 50,000 - 20,000 - 24,000 = 6,000 available: 2,500 still fits; a second officer is not needed.
    assert response.status_code == 302
    site.sign_in("fiscal2", client)
    response = client.post(f"/queues/fiscal/expenditure/{CODE}/EXP-0001/approve", data={"reason": "again"})
    assert response.status_code in (404, 409, 422)
    assert site.size() == before + 1


def test_sponsor_approves_the_change_request_and_pmo_signs_off_the_gate(site):
    sponsor = site.as_user("sponsor")
    page = text_of(sponsor.get("/queues/sponsor").data)
    assert "change-request CR-001" in page and "Residents ask for it" in page
    assert "gate-signoff G0" in page
    response = sponsor.post(f"/queues/sponsor/change-request/{CODE}/CR-001/approve", data={"reason": "worth it"})
    assert response.status_code == 302
    assert 'class="meaning">approval<' in sponsor.get(response.location).get_data(as_text=True)
    pmo = site.as_user("pmo")
    response = pmo.post(f"/queues/pmo/gate-signoff/{CODE}/G0/sign",
                        data={"decision": "approved-with-conditions", "conditions": ""})
    assert response.status_code == 422  # conditions must be stated
    response = pmo.post(f"/queues/pmo/gate-signoff/{CODE}/G0/sign",
                        data={"decision": "approved-with-conditions", "conditions": "name a data owner"})
    assert response.status_code == 302
    assert site.pmo.project(CODE).gates["G0"]["signoffs"][0]["role"] == "pmo"


def test_project_page_draws_charts_and_checks_signatures(site):
    html = site.as_user("auditor").get(f"/projects/{CODE}").get_data(as_text=True)
    assert html.count("<svg") >= 2 and "pygal" in html
    assert "S-curve" in html and "Budget by line" in html
    assert 'class="sig valid">valid' in html
    assert "Servers" in html and "Design" in html


def test_the_log_filters_and_the_event_page(site):
    client = site.as_user("auditor")
    page = text_of(client.get("/audit/log?actor=pm&event=Expenditure").data)
    assert "ExpenditureSubmitted" in page and "BudgetLineAdded" not in page
    assert "ExpenditureSubmitted" not in text_of(client.get("/audit/log?actor=fiscal").data)
    assert "No event matches" in text_of(client.get("/audit/log?since=2099-01-01").data)
    assert client.get("/audit/log?since=garbage").status_code == 400
    event = client.get(f"/audit/events/{site.size()}")
    assert event.status_code == 200 and 'id="signature">valid' in event.get_data(as_text=True)
    assert client.get("/audit/events/999999").status_code == 404


def test_verification_runs_with_progress_to_a_clean_result(site):
    client = site.as_user("auditor")
    response = client.post("/audit/verify")
    assert response.status_code == 302
    for _ in range(100):
        status = client.get(response.location + "?format=json").get_json()
        if status["finished"]:
            break
        time.sleep(0.05)
    assert status["ok"] is True and status["percent"] == 100
    page = client.get(response.location).get_data(as_text=True)
    assert 'id="verify-verdict">Clean' in page


def test_verification_reports_a_tampered_event(site):
    set_chain_column(site.pmo, 5, "signature", b"\0" * 64)
    client = site.as_user("auditor")
    response = client.post("/audit/verify")
    for _ in range(100):
        status = client.get(response.location + "?format=json").get_json()
        if status["finished"]:
            break
        time.sleep(0.05)
    assert status["ok"] is False
    page = text_of(client.get(response.location).data)
    assert "bad-signature" in page


def test_as_of_a_date_and_a_position(site):
    client = site.as_user("auditor")
    before = client.get(f"/audit/projects/{CODE}/as-of?date=2000-01-01")
    assert before.status_code == 422 and "holds nothing recorded" in text_of(before.data)
    now = client.get(f"/audit/projects/{CODE}/as-of?date=2999-12-31")
    assert now.status_code == 200 and "250,000.00" in text_of(now.data)
    # position of the first budget line: the project then had one line
    rows = site.pmo.recorder.fetch("SELECT position FROM rm_events WHERE event LIKE '%BudgetLineAdded' ORDER BY position")
    first = rows[0][0]
    page = text_of(client.get(f"/audit/projects/{CODE}/as-of?position={first}").data)
    assert "HW-01" in page and "LB-01" not in page and "50,000.00" in page


def test_field_history_and_findings_and_bundle(site):
    client = site.as_user("auditor")
    page = text_of(client.get(f"/audit/projects/{CODE}/history?field=lines.HW-01").data)
    assert "lines.HW-01" in page and "Pat Manager" in page
    assert client.get(f"/audit/projects/{CODE}/history").status_code == 200
    assert client.get("/audit/findings").status_code == 200
    make_checkpoint(site.pmo, site.pmo.root_signer(PW))
    before = snapshot_of_tables(site.pmo)
    response = client.post("/audit/bundle")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert any(n.endswith("FORMAT.md") for n in names)
    assert snapshot_of_tables(site.pmo) == before  # the download wrote nothing


def test_an_auditors_download_never_signs_a_checkpoint(site):
    """Issue 17 item 15: with no checkpoint stored, the download used to sign and store one
    with the root key. It now says what is missing, and writes nothing."""
    before = snapshot_of_tables(site.pmo)
    response = site.as_user("auditor").post("/audit/bundle")
    assert response.status_code == 409
    assert "pmo-ledger checkpoint" in text_of(response.data)
    assert snapshot_of_tables(site.pmo) == before


def test_reports_and_their_csv(site):
    client = site.as_user("fiscal")
    assert "IT-2026-014" in text_of(client.get("/reports/variance?as_of=2025-06-30").data)
    response = client.get("/reports/variance?as_of=2025-06-30&format=csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0]["project"] == CODE and rows[0]["bac"] == "250000.00"
    response = client.get(f"/reports/budget?project={CODE}&format=csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["line"] for r in rows] == ["HW-01", "LB-01"]
    assert rows[0]["available"] == "50000.00"
    assert client.get("/reports/variance?as_of=nope").status_code == 400


def test_a_verification_run_is_seen_by_every_worker(site, tmp_path):
    """Regression: runs lived in the memory of the worker that started them, so under
    `serve --workers 2` the polling page usually reached a worker that had never heard of
    the run (404). A second app over the same database stands in for the other worker."""
    from tests.web.conftest import make_app
    from web.ledger_access import close_ledger

    other = make_app(site.app.config["LEDGER_DB"], tmp_path)
    try:
        response = site.as_user("auditor").post("/audit/verify")
        poller = site.sign_in("auditor", other.test_client())
        for _ in range(200):
            status = poller.get(response.location + "?format=json").get_json()
            if status["finished"]:
                break
            time.sleep(0.05)
        assert status["ok"] is True and status["total"] == site.size()
        assert 'id="verify-verdict">Clean' in poller.get(response.location).get_data(as_text=True)
    finally:
        close_ledger(other)


def test_a_run_whose_worker_died_is_reported_stopped(site, monkeypatch):
    from web.pages import verification

    client = site.as_user("auditor")
    store = verification._store(site.app)
    dead = verification.Run("deadbeef0001", "auditor", total=10, done=3)
    store.add(dead)
    store.save(dead)
    assert client.get("/audit/verify/deadbeef0001?format=json").get_json()["finished"] is False
    monkeypatch.setattr(verification, "_now", lambda: dead.updated + verification.STALE_SECONDS + 1)
    status = client.get("/audit/verify/deadbeef0001?format=json").get_json()
    assert status["finished"] is True and status["ok"] is None and "stopped" in status["error"]
    assert client.get("/audit/verify/nosuchrun?format=json").status_code == 404


def test_project_page_marks_a_forged_signature_and_a_broken_link(site):
    client = site.as_user("auditor")
    html = client.get(f"/projects/{CODE}").get_data(as_text=True)
    shown = [int(p) for p in re.findall(r'<tr><td class="num"><a href="[^"]*">(\d+)</a>', html)]
    newest, oldest = shown[0], shown[-1]
    flip_signature_byte(site.pmo, newest)
    set_chain_column(site.pmo, oldest - 1, "chain_hash", b"\1" * 32)  # the link before `oldest`
    html = client.get(f"/projects/{CODE}").get_data(as_text=True)
    status = dict(re.findall(r'">(\d+)</a></td>.*?<td class="sig [a-z]+">([^<(]*)', html, re.S))
    assert status.pop(str(newest)) == "bad-signature, chain-break"  # the hash covers the signature
    assert status.pop(str(oldest)) == "chain-break"
    assert set(status.values()) == {"valid"}
