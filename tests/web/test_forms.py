"""The project manager's forms: each accepted form writes its signed event and shows the
project; a refused one comes back with what was typed and a message by each field,
status 422, and the log unchanged."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from tests.web.conftest import CODE, text_of
from web.pages.pm import FORMS

VALID: dict[str, dict[str, str]] = {
    "amendment": {"title": "Permits and licences portal", "reason": "scope renamed"},
    "budget-line": {"line": "SW-01", "name": "Licences", "category": "software", "amount": "12,000.00"},
    "milestone": {"milestone": "M-03", "name": "Go-live", "planned_start": "2026-01-01",
                  "planned_finish": "2026-03-31", "budgeted_value": "50000"},
    "deliverable": {"deliverable": "D-01", "name": "Citizen portal"},
    "change-request": {"title": "Mobile app", "description": "Add a mobile app",
                       "justification": "Most residents use phones",
                       "cost_impacts": "LB-01 20000.00\nTR-01 5000 | Training | training",
                       "schedule_impacts": "M-02 planned_finish=2026-02-28",
                       "deliverables": "D-05 | Mobile app"},
    "transfer": {"from_line": "LB-01", "to_line": "HW-01", "amount": "500.00", "reason": "rebalance"},
    "commitment": {"po_number": "PO-2025-001", "vendor": "Acme Servers", "line": "HW-01",
                   "amount": "10000.00", "description": "Blade chassis"},
    "expenditure": {"line": "HW-01", "amount": "1,234.56", "vendor": "Acme Servers",
                    "invoice_number": "INV-77", "invoice_date": "2025-04-02", "description": "Cables"},
    "progress": {"milestone": "M-01", "percent_complete": "40", "as_of": "2025-03-31", "note": "on track"},
    "risk": {"title": "Vendor turnover", "probability": "3", "impact": "4", "owner": "Pat Manager",
             "mitigation": "Key personnel clause"},
    "status-report": {"period_start": "2025-03-01", "period_end": "2025-03-31", "overall": "green",
                      "schedule": "green", "budget": "amber", "scope": "green", "summary": "Design on track"},
}
EVENT = {
    "amendment": "CharterAmended", "budget-line": "BudgetLineAdded", "milestone": "MilestoneAdded",
    "deliverable": "DeliverableAdded", "change-request": "ChangeRequestSubmitted",
    "transfer": "BudgetTransferRequested", "commitment": "CommitmentSubmitted",
    "expenditure": "ExpenditureSubmitted", "progress": "ProgressReported", "risk": "RiskRaised",
    "status-report": "StatusReportPublished",
}
# A refused input per form: (field typed, the field that gets a message).
INVALID: dict[str, tuple[dict[str, str], str]] = {
    "amendment": ({"title": "New title"}, "reason"),
    "budget-line": ({"line": "SW-01", "category": "furniture", "amount": "100"}, "category"),
    "milestone": ({"milestone": "M-03", "name": "Go-live", "planned_start": "2026-03-31",
                   "planned_finish": "2026-01-01", "budgeted_value": "1"}, "planned_finish"),
    "deliverable": ({"deliverable": "D 01 bad", "name": "Portal"}, "deliverable"),
    "change-request": ({"title": "Mobile app", "description": "d", "justification": "j",
                        "cost_impacts": "LB-01 lots"}, "cost_impacts"),
    "transfer": ({"from_line": "LB-01", "to_line": "LB-01", "amount": "5", "reason": "x"}, "to_line"),
    "commitment": ({"po_number": "PO-1", "vendor": "Acme", "line": "HW-01", "amount": "-5"}, "amount"),
    "expenditure": ({"line": "HW-01", "amount": "12.345", "vendor": "Acme Servers",
                     "invoice_number": "INV-9", "invoice_date": "2025-13-45",
                     "description": "Cables"}, "invoice_date"),
    "progress": ({"milestone": "M-01", "percent_complete": "140", "as_of": "2025-03-31"}, "percent_complete"),
    "risk": ({"title": "Vendor turnover", "probability": "9", "impact": "4", "owner": "Pat",
              "mitigation": "m"}, "probability"),
    "status-report": ({"period_start": "2025-03-01", "period_end": "2025-03-31", "overall": "purple",
                       "schedule": "green", "budget": "green", "scope": "green", "summary": "s"}, "overall"),
}


def test_every_form_is_tested():
    assert set(VALID) == set(FORMS) == set(INVALID) == set(EVENT)


def _last_event(site) -> dict:
    n = site.size()
    row = site.pmo.read_chain(n, n)[0]
    return {"topic": row.topic, **json.loads(row.state)}


@pytest.mark.parametrize("form", sorted(VALID))
def test_an_accepted_form_records_a_signed_event(site, form):
    client = site.sign_in("pm")
    page = client.get(f"/projects/{CODE}/act/{form}")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.get_data(as_text=True)
    before = site.size()
    response = client.post(f"/projects/{CODE}/act/{form}", data=VALID[form])
    assert response.status_code == 302, text_of(response.data)[:1500]
    assert response.location == f"/projects/{CODE}"
    assert site.size() > before
    event = _last_event(site)
    assert event["topic"].endswith("." + EVENT[form])
    assert event["actor_id"] == "pm" and event["meaning"] == "authorship"
    shown = client.get(response.location)
    assert shown.status_code == 200
    assert 'class="flash ok"' in shown.get_data(as_text=True)


@pytest.mark.parametrize("form", sorted(INVALID))
def test_a_refused_form_keeps_the_input_and_says_why(site, form):
    client = site.sign_in("pm")
    data, field = INVALID[form]
    before = site.size()
    response = client.post(f"/projects/{CODE}/act/{form}", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'data-field="{field}"' in html, text_of(response.data)[:2000]
    assert "Nothing was recorded" in html
    for name, value in data.items():
        if "\n" not in value:
            assert f'value="{value}"' in html or f">{value}</textarea>" in html or \
                f'value="{value}" selected' in html, (name, value)
    assert site.size() == before


def test_a_domain_refusal_is_shown_on_the_form(site):
    client = site.sign_in("pm")
    before = site.size()
    # G2 cannot be reviewed before G1 passed (and G0 is still in review).
    response = client.post(f"/projects/{CODE}/gates/G2/review", data={"artifacts": "plan.pdf\nrisks.xlsx"})
    assert response.status_code == 422
    assert "cannot be reviewed before" in text_of(response.data)
    assert "plan.pdf" in response.get_data(as_text=True)
    # an unknown line: the domain names the field
    response = client.post(f"/projects/{CODE}/act/expenditure", data={**VALID["expenditure"], "line": "XX-99"})
    assert response.status_code == 404
    assert 'data-field="line"' in response.get_data(as_text=True)
    assert site.size() == before


def test_the_expenditure_records_the_invoice_files_sha256(site):
    client = site.sign_in("pm")
    content = b"%PDF-1.4 invoice INV-77 from Acme Servers\n"
    data = {**VALID["expenditure"], "invoice": (io.BytesIO(content), "INV-77.pdf")}
    response = client.post(f"/projects/{CODE}/act/expenditure", data=data,
                           content_type="multipart/form-data")
    assert response.status_code == 302
    event = _last_event(site)
    assert event["document_sha256"] == hashlib.sha256(content).hexdigest()
    assert event["amount"]["_data_"] == "1234.56"


def test_charter_a_project_and_request_a_gate_review(site):
    client = site.sign_in("pm")
    assert client.get("/projects/new").status_code == 200
    data = {"code": "IT-2026-099", "title": "Parking sensors", "sponsor": "Sam Sponsor",
            "project_manager": "Pat Manager", "start_date": "2026-01-05",
            "target_finish_date": "2026-12-18", "fund": "Capital Fund", "capital": "true",
            "objectives": "Fewer cars circling\nLive occupancy map", "scope_statement": "Downtown"}
    response = client.post("/projects/new", data=data)
    assert response.status_code == 302 and response.location == "/projects/IT-2026-099"
    project = site.pmo.project("IT-2026-099")
    assert project.charter["objectives"] == ["Fewer cars circling", "Live occupancy map"]
    assert project.charter["funding_type"] == "capital"
    # the same code again: refused, input kept
    before = site.size()
    again = client.post("/projects/new", data=data)
    assert again.status_code == 409
    assert 'value="Parking sensors"' in again.get_data(as_text=True)
    assert site.size() == before
    response = client.post("/projects/IT-2026-099/gates/G0/review", data={"artifacts": "charter.pdf", "note": "ready"})
    assert response.status_code == 302
    assert site.pmo.project("IT-2026-099").gates["G0"]["status"] == "in-review"


def test_an_empty_charter_names_every_missing_field(site):
    client = site.sign_in("pm")
    response = client.post("/projects/new", data={"title": "Only a title"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for field in ("code", "sponsor", "start_date", "target_finish_date", "fund", "capital",
                  "objectives", "scope_statement"):
        assert f'data-field="{field}"' in html, field
    assert 'value="Only a title"' in html


def test_unknown_form_and_project_are_404(site):
    client = site.sign_in("pm")
    assert client.get(f"/projects/{CODE}/act/nothing").status_code == 404
    assert client.get("/projects/IT-1999-001/act/risk").status_code == 404
    assert client.get("/projects/IT-1999-001").status_code == 404
