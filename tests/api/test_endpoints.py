"""Every API endpoint's happy path, and refusals: status, stable code, nothing written."""

from __future__ import annotations

from decimal import Decimal

from ledger.hashing import leaf_hash, record_hash
from tests.api.conftest import PASSWORD, ApiClient, refused
from tests.api.verifying import verification

NEW = "IT-2026-020"
CHARTER = {
    "code": NEW, "title": "Library kiosks", "sponsor": "sponsor", "project_manager": "pm",
    "start_date": "2025-01-01", "target_finish_date": "2025-12-31", "fund": "General Fund",
    "capital": True, "objectives": ["Self-service kiosks"], "scope_statement": "Ten branches",
}
INVOICE = {"line": "HW-01", "amount": "1250.00", "vendor": "Acme", "invoice_number": "A-77",
           "invoice_date": "2025-04-01", "description": "rack", "document_sha256": "AB" * 32}


def submitted(api: ApiClient, response, status: int = 201) -> dict:
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert set(body) == {"id", "status", "position", "receipt"}, body
    assert isinstance(body["position"], int) and 0 < body["position"] <= api.size()
    # The receipt is the save's own report of that position: the log holds what it says.
    receipt = body["receipt"]
    assert receipt["position"] == body["position"]
    row = api.log_row(body["position"])
    assert (receipt["chain_hash"], receipt["originator_id"], receipt["originator_version"]) == (
        row.chain_hash.hex(), row.originator_id, row.originator_version)
    assert receipt["leaf_hash"] == leaf_hash(record_hash(row.originator_id, row.originator_version,
                                                         row.topic, row.state), row.signature).hex()
    return body


# Tokens -------------------------------------------------------------------------------------


def test_a_token_is_issued_for_a_password_and_then_identifies_its_owner(api: ApiClient) -> None:
    r = api.post("tokens", None, {"username": "fiscal", "password": PASSWORD})
    assert r.status_code == 201, r.get_json()
    token = r.get_json()["token"]
    assert r.get_json()["username"] == "fiscal"
    api.tokens["new"] = token
    assert api.get("projects", "new").status_code == 200


def test_tokens_are_refused_for_a_wrong_password_and_requests_without_one(api: ApiClient) -> None:
    size = api.size()
    refused(api, api.post("tokens", None, {"username": "fiscal", "password": "nope"}), 401,
            "unauthorised", size)
    refused(api, api.post("tokens", None, {"username": "fiscal"}), 422, "validation", size)
    r = refused(api, api.get("projects", None), 401, "unauthorised", size)
    assert r["message"]
    assert api.last.headers["WWW-Authenticate"].startswith("Bearer")
    refused(api, api.get("projects", "not-a-token"), 401, "unauthorised", size)
    refused(api, api.post(api.project("/expenditures"), None, INVOICE), 401, "unauthorised", size)


# Projects -----------------------------------------------------------------------------------


def test_charter_then_baseline_then_progress(api: ApiClient) -> None:
    body = submitted(api, api.post("projects", "pm", CHARTER))
    assert {k: body[k] for k in ("id", "status", "position")} == {"id": NEW, "status": "chartered", "position": api.size()}
    api.code = NEW
    line = submitted(api, api.post(api.project("/budget-lines"), "pm",
                                   {"line": "HW-01", "category": "hardware", "amount": "9000.00"}))
    assert line["id"] == "HW-01"
    submitted(api, api.post(api.project("/milestones"), "pm", {
        "milestone": "M-01", "name": "Install", "planned_start": "2025-01-01",
        "planned_finish": "2025-03-31", "budgeted_value": "9000.00"}))
    submitted(api, api.post(api.project("/deliverables"), "pm", {"deliverable": "D-01", "name": "Kiosks"}))
    submitted(api, api.post(api.project("/progress"), "pm",
                            {"milestone": "M-01", "percent_complete": 100, "as_of": "2025-03-31"}))
    accepted = submitted(api, api.post(api.project("/milestones/M-01/acceptance"), "sponsor",
                                       {"accepted_on": "2025-04-02"}))
    assert accepted["status"] == "accepted"
    submitted(api, api.post(api.project("/amendments"), "pm",
                            {"title": "Library kiosks, phase 1", "reason": "phasing"}))

    project = api.get(api.project()).get_json()
    assert project["charter"]["title"] == "Library kiosks, phase 1"
    assert project["charter"]["funding_type"] == "capital"
    assert project["lines"]["HW-01"]["budget"] == "9000.00"
    assert project["milestones"]["M-01"]["budgeted_value"] == "9000.00"
    listed = api.get("projects", "pm").get_json()
    assert [p["project"] for p in listed] == ["IT-2026-014", NEW]
    assert listed[1]["budget"] == "9000.00"
    lines = api.get(api.project("/budget"), "fiscal").get_json()
    assert lines[0]["line"] == "HW-01" and lines[0]["available"] == "9000.00"


def test_a_project_as_of_a_position_or_an_instant(api: ApiClient) -> None:
    events = api.get("ledger/events", "auditor", limit=1000).get_json()["events"]
    chartered = next(e["position"] for e in events if e["topic"].endswith("Project.Chartered"))
    first = api.get(api.project(), position=chartered + 1).get_json()
    assert first["as_of"]["position"] == chartered + 1
    assert first["as_of"]["project_position"] == chartered + 1
    assert list(first["lines"]) == ["HW-01"] and first["version"] == 2
    refused(api, api.get(api.project(), position=chartered - 1), 404, "not-found", api.size())
    now = api.get(api.project()).get_json()
    assert now["as_of"] is None and now["version"] > first["version"]
    assert api.get(api.project(), as_of="2999-01-01T00:00:00Z").get_json()["version"] == now["version"]
    size = api.size()
    refused(api, api.get(api.project(), as_of="yesterday"), 422, "validation", size)
    refused(api, api.get(api.project(), as_of="1999-01-01"), 422, "validation", size)
    refused(api, api.get(api.project(), position=10 ** 6), 422, "validation", size)
    refused(api, api.get(api.project(), position=-1), 422, "validation", size)
    refused(api, api.get("projects/IT-1999-001"), 404, "not-found", size)


def test_charter_refusals(api: ApiClient) -> None:
    size = api.size()
    body = refused(api, api.post("projects", "pm", {**CHARTER, "start_date": "2026-13-01"}),
                   422, "validation", size)
    assert "start_date" in body["errors"]
    body = refused(api, api.post("projects", "pm", {**CHARTER, "code": "it 20"}), 422, "validation", size)
    assert "code" in body["errors"]
    refused(api, api.post("projects", "pm", {**CHARTER, "colour": "red"}), 422, "validation", size)
    refused(api, api.post("projects", "pm", {**CHARTER, "code": "IT-2026-014"}), 409, "duplicate", size)
    refused(api, api.post("projects", "fiscal", CHARTER), 403, "forbidden", size)
    r = api.client.post("/api/v1/projects", data="{not json", content_type="application/json",
                        headers=api.headers("pm"))
    refused(api, r, 400, "bad-request", size)


# Expenditures ---------------------------------------------------------------------------------


def test_an_expenditure_is_submitted_approved_and_reversed(api: ApiClient) -> None:
    body = submitted(api, api.post(api.project("/expenditures"), "pm", INVOICE))
    assert body["status"] == "pending" and body["id"] == "EXP-0003"
    assert body["position"] == api.size()
    approved = submitted(api, api.post(api.project("/expenditures/EXP-0003/approve"), "fiscal"), 200)
    assert approved["status"] == "approved" and approved["position"] == api.size()
    reversed_ = submitted(api, api.post(api.project("/expenditures/EXP-0003/reverse"), "fiscal",
                                        {"reason": "duplicate invoice"}), 200)
    assert reversed_["status"] == "reversed"
    project = api.get(api.project()).get_json()
    assert project["expenditures"]["EXP-0003"]["document_sha256"] == "ab" * 32


def test_an_expenditure_is_rejected_with_a_reason_only(api: ApiClient) -> None:
    size = api.size()
    body = refused(api, api.post(api.project("/expenditures/EXP-0001/reject"), "fiscal", {}),
                   422, "validation", size)
    assert "reason" in body["errors"]
    r = submitted(api, api.post(api.project("/expenditures/EXP-0001/reject"), "fiscal",
                                {"reason": "wrong vendor"}), 200)
    assert r["status"] == "rejected"


def test_expenditure_refusals(api: ApiClient) -> None:
    size = api.size()
    for amount in ("12.345", "-5.00", "0", "abc", 12.5, True):
        body = refused(api, api.post(api.project("/expenditures"), "pm", {**INVOICE, "amount": amount}),
                       422, "validation", size)
        assert "amount" in body["errors"], (amount, body)
    body = refused(api, api.post(api.project("/expenditures"), "pm", {**INVOICE, "line": "NOPE-1"}),
                   404, "not-found", size)
    assert "line" in body["errors"]
    refused(api, api.post(api.project("/expenditures/EXP-0001/approve"), "pm"), 403, "forbidden", size)
    refused(api, api.post(api.project("/expenditures/EXP-0001/approve"), "admin"), 403, "forbidden", size)
    refused(api, api.post(api.project("/expenditures/EXP-9999/approve"), "fiscal"), 404, "not-found", size)
    refused(api, api.post(api.project("/expenditures/EXP-0002/approve"), "fiscal"), 409,
            "invalid-state", size)
    refused(api, api.post("projects/IT-1999-001/expenditures", "pm", INVOICE), 404, "not-found", size)


def test_an_approval_that_would_overdraw_the_line_is_refused(api: ApiClient) -> None:
    body = submitted(api, api.post(api.project("/expenditures"), "pm",
                                   {**INVOICE, "amount": "24500.00", "invoice_number": "BIG-1"}))
    second = submitted(api, api.post(api.project("/expenditures"), "pm",
                                     {**INVOICE, "amount": "24500.00", "invoice_number": "BIG-2"}))
    submitted(api, api.post(api.project(f"/expenditures/{body['id']}/approve"), "fiscal"), 200)
    size = api.size()
    r = refused(api, api.post(api.project(f"/expenditures/{second['id']}/approve"), "fiscal2"),
                409, "would-overdraw", size)
    assert "HW-01" in r["message"]


def test_two_approvals_must_come_from_two_people(api: ApiClient) -> None:
    body = submitted(api, api.post(api.project("/expenditures"), "pm",
                                   {**INVOICE, "line": "LB-01", "amount": "30000.00"}))
    first = submitted(api, api.post(api.project(f"/expenditures/{body['id']}/approve"), "fiscal"), 200)
    assert first["status"] == "pending"
    size = api.size()
    refused(api, api.post(api.project(f"/expenditures/{body['id']}/approve"), "fiscal"), 403,
            "segregation-of-duties", size)
    second = submitted(api, api.post(api.project(f"/expenditures/{body['id']}/approve"), "fiscal2"), 200)
    assert second["status"] == "approved"


# Commitments, transfers, change requests -----------------------------------------------------------


def test_commitments(api: ApiClient) -> None:
    body = submitted(api, api.post(api.project("/commitments"), "pm",
                                   {"po_number": "PO-9", "vendor": "Acme", "line": "LB-01",
                                    "amount": "500.00"}))
    assert {k: body[k] for k in ("id", "status", "position")} == {"id": "PO-9", "status": "pending", "position": api.size()}
    assert submitted(api, api.post(api.project("/commitments/PO-9/approve"), "fiscal"), 200)["status"] == "open"
    assert submitted(api, api.post(api.project("/commitments/PO-9/close"), "pm",
                                   {"reason": "delivered"}), 200)["status"] == "closed"
    assert submitted(api, api.post(api.project("/commitments/PO-2/release"), "fiscal",
                                   {"reason": "cancelled"}), 200)["status"] == "released"
    assert submitted(api, api.post(api.project("/commitments/PO-1/reject"), "fiscal",
                                   {"reason": "no quote"}), 200)["status"] == "rejected"


def test_transfers(api: ApiClient) -> None:
    body = submitted(api, api.post(api.project("/transfers"), "pm", {
        "from_line": "LB-01", "to_line": "HW-01", "amount": "100.00", "reason": "servers"}))
    assert body["id"] == "TR-002" and body["status"] == "pending"
    assert submitted(api, api.post(api.project("/transfers/TR-002/approve"), "fiscal"), 200)["status"] == "approved"
    assert submitted(api, api.post(api.project("/transfers/TR-001/reject"), "fiscal",
                                   {"reason": "no"}), 200)["status"] == "rejected"
    size = api.size()
    refused(api, api.post(api.project("/transfers"), "pm", {
        "from_line": "HW-01", "to_line": "HW-01", "amount": "1.00", "reason": "x"}), 422, "validation", size)


def test_change_requests(api: ApiClient) -> None:
    body = submitted(api, api.post(api.project("/change-requests"), "pm", {
        "title": "Tablets", "description": "for inspectors", "justification": "field work",
        "cost_impacts": [{"line": "TB-01", "amount": "800.00", "name": "Tablets",
                          "category": "hardware"}],
        "schedule_impacts": [{"milestone": "M-02", "planned_finish": "2026-01-31"}]}))
    assert body["id"] == "CR-002"
    approved = submitted(api, api.post(api.project("/change-requests/CR-002/approve"), "sponsor",
                                       {"reason": "agreed"}), 200)
    assert approved["status"] == "approved"
    project = api.get(api.project()).get_json()
    assert project["lines"]["TB-01"]["budget"] == "800.00"
    assert project["milestones"]["M-02"]["planned_finish"] == "2026-01-31"
    assert submitted(api, api.post(api.project("/change-requests/CR-001/withdraw"), "pm",
                                   {"reason": "not needed"}), 200)["status"] == "withdrawn"
    size = api.size()
    refused(api, api.post(api.project("/change-requests"), "pm", {
        "title": "Nothing", "description": "d", "justification": "j"}), 422, "validation", size)
    refused(api, api.post(api.project("/change-requests/CR-001/approve"), "fiscal"), 403,
            "forbidden", size)


def test_a_change_request_is_rejected(api: ApiClient) -> None:
    r = submitted(api, api.post(api.project("/change-requests/CR-001/reject"), "sponsor",
                                {"reason": "too costly"}), 200)
    assert r["status"] == "rejected"


# Gates ----------------------------------------------------------------------------------------


def test_gates_review_signoff_and_order(api: ApiClient) -> None:
    size = api.size()
    refused(api, api.post(api.project("/gates/G2/reviews"), "pm", {"artifacts": [{"name": "plan.pdf"}]}),
            409, "gate-out-of-order", size)
    refused(api, api.post(api.project("/gates/G0/signoffs"), "pm", {"decision": "approved"}),
            403, "segregation-of-duties", size)
    refused(api, api.post(api.project("/gates/G0/signoffs"), "auditor", {"decision": "approved"}),
            403, "forbidden", size)
    refused(api, api.post(api.project("/gates/G0/signoffs"), "pmo", {"decision": "maybe"}),
            422, "validation", size)
    refused(api, api.post(api.project("/gates/G9/signoffs"), "pmo", {"decision": "approved"}),
            422, "validation", size)
    first = submitted(api, api.post(api.project("/gates/G0/signoffs"), "pmo",
                                    {"decision": "approved-with-conditions", "conditions": "risk log"}))
    assert first["status"] == "in-review"
    passed = submitted(api, api.post(api.project("/gates/G0/signoffs"), "sponsor", {"decision": "approved"}))
    assert passed["status"] == "passed"
    met = submitted(api, api.post(api.project("/gates/G0/conditions-met"), "pmo",
                                  {"conditions": ["risk log"], "reason": "risk log published"}))
    assert met["id"] == "G0"
    review = submitted(api, api.post(api.project("/gates/G1/reviews"), "pm",
                                     {"artifacts": [{"name": "plan.pdf", "sha256": "0" * 64}]}))
    assert {k: review[k] for k in ("id", "status", "position")} == {"id": "G1", "status": "in-review", "position": api.size()}


# Risks, issues, status reports ------------------------------------------------------------------


def test_risks_issues_and_status_reports(api: ApiClient) -> None:
    risk = submitted(api, api.post(api.project("/risks"), "pm", {
        "title": "Data migration", "probability": 2, "impact": 5, "owner": "pm",
        "mitigation": "dry runs"}))
    assert risk["id"] == "R-002" and risk["status"] == "open"
    assert submitted(api, api.post(api.project("/risks/R-002/updates"), "pm",
                                   {"reason": "dry run failed", "probability": 4}), 200)["id"] == "R-002"
    assert submitted(api, api.post(api.project("/risks/R-001/close"), "pm",
                                   {"reason": "second vendor signed"}), 200)["status"] == "closed"
    size = api.size()
    refused(api, api.post(api.project("/risks"), "pm", {
        "title": "x", "probability": 9, "impact": 1, "owner": "pm", "mitigation": "m"}),
        422, "validation", size)
    issue = submitted(api, api.post(api.project("/issues"), "pm", {
        "title": "Badge readers", "description": "late", "severity": "high", "owner": "pm"}))
    submitted(api, api.post(api.project(f"/issues/{issue['id']}/escalate"), "pm",
                            {"to": "sponsor", "reason": "blocks G2"}), 200)
    assert submitted(api, api.post(api.project("/issues/I-001/resolve"), "pm",
                                   {"resolution": "bought"}), 200)["status"] == "resolved"
    report = submitted(api, api.post(api.project("/status-reports"), "pm", {
        "period_start": "2025-03-01", "period_end": "2025-03-31", "overall": "green",
        "schedule": "amber", "budget": "green", "scope": "green", "summary": "on track"}))
    assert report["id"] == "SR-001" and report["status"] == "published"
    stored = api.get(api.project()).get_json()["status_reports"]["SR-001"]
    assert stored["schedule"] == "amber" and stored["figures"]


# Variance, compliance, ledger ---------------------------------------------------------------------


def test_variance_as_of_a_date(api: ApiClient) -> None:
    submitted(api, api.post(api.project("/progress"), "pm",
                            {"milestone": "M-01", "percent_complete": 50, "as_of": "2025-03-31"}))
    body = api.get(api.project("/variance"), "fiscal", as_of="2025-03-31").get_json()
    assert set(body) >= {"bac", "pv", "ev", "ac", "cv", "sv", "cpi", "spi", "eac", "etc", "vac", "tcpi"}
    assert body["bac"] == "250000.00" and body["ev"] == "50000.00" and body["ac"] == "2000.00"
    assert body["cv"] == "48000.00"
    assert isinstance(body["cpi"], float) and body["cpi"] == 25.0
    assert Decimal(body["pv"]) > 0 and isinstance(body["spi"], float)
    early = api.get(api.project("/variance"), "fiscal", as_of="2024-06-30").get_json()
    assert early["cpi"] is None and early["spi"] is None and early["eac"] is None
    size = api.size()
    refused(api, api.get(api.project("/variance"), "fiscal", as_of="31/03/2025"), 422, "validation", size)
    refused(api, api.get("projects/IT-1999-001/variance", "fiscal"), 404, "not-found", size)


def test_a_misspelt_query_parameter_is_refused_not_ignored(api: ApiClient) -> None:
    """Regression: `?asof=` was dropped, so a past date was answered with today's figures."""
    size = api.size()
    for path, user, params in (
            (api.project("/variance"), "fiscal", {"asof": "2024-06-30"}),
            (api.project(), "auditor", {"asof": "2024-06-30T00:00:00Z"}),
            (api.project(), "auditor", {"as_of": "2999-01-01", "pos": 3}),
            ("ledger/events", "auditor", {"after": 0, "limt": 10}),
            ("compliance/findings", "auditor", {"projet": "IT-2026-014"})):
        misspelt = next(k for k in params if k not in ("as_of", "after"))
        body = refused(api, api.get(path, user, **params), 422, "validation", size)
        assert misspelt in str(body["errors"]), body


def test_compliance_findings(api: ApiClient) -> None:
    r = api.get("compliance/findings", "auditor")
    assert r.status_code == 200
    for finding in r.get_json():
        assert set(finding) == {"rule_id", "severity", "project", "message", "evidence"}
        assert all(isinstance(p, int) for p in finding["evidence"])
    assert api.get("compliance/findings", "auditor", project="IT-2026-014").status_code == 200


def test_ledger_verify_checkpoint_and_events(api: ApiClient) -> None:
    report = verification(api.client, api.headers("auditor")).get_json()
    assert report["ok"] is True and report["events"] == api.size() and report["faults"] == []
    assert report["checkpoints_checked"] == 1
    cp = api.get("ledger/checkpoint", "auditor").get_json()
    assert cp["size"] <= api.size() and cp["note"].splitlines()[1] == str(cp["size"])
    text = api.get("ledger/checkpoint", "auditor", format="text")
    assert text.mimetype == "text/plain" and text.get_data(as_text=True) == cp["note"]

    page = api.get("ledger/events", "auditor", after=0, limit=10).get_json()
    assert [e["position"] for e in page["events"]] == list(range(1, 11))
    assert page["next_after"] == 10 and page["size"] == api.size()
    first = page["events"][0]
    assert set(first) >= {"position", "topic", "key_id", "signer", "payload", "signature"}
    rest = api.get("ledger/events", "auditor", after=page["next_after"], limit=1000).get_json()
    assert rest["events"][0]["position"] == 11 and rest["next_after"] is None
    charter = [e for e in rest["events"] if e["topic"].endswith("Project.Chartered")]
    assert charter and charter[0]["signer"] == "pm"
    assert api.get("ledger/events", "auditor", after=10 ** 6).get_json()["events"] == []
    size = api.size()
    refused(api, api.get("ledger/events", "auditor", limit=0), 422, "validation", size)


def test_no_checkpoint_yet_is_a_404(api: ApiClient) -> None:
    from web.ledger_access import get_pmo

    get_pmo(api.app).recorder.execute("DELETE FROM {checkpoints}")
    refused(api, api.get("ledger/checkpoint", "auditor"), 404, "not-found", api.size())


def test_queue_shows_what_waits_for_the_caller(api: ApiClient) -> None:
    items = api.get("queue", "fiscal").get_json()
    kinds = {(i["kind"], i["item"]) for i in items}
    assert any(item == "EXP-0001" for _, item in kinds), kinds
    assert api.get("queue", "auditor").status_code == 200


def test_an_unknown_api_path_and_method_answer_json(api: ApiClient) -> None:
    r = api.get("nothing-here")
    assert r.status_code == 404 and r.get_json()["code"] == "not-found"
    r = api.call("DELETE", "projects", "pm")
    assert r.status_code == 405 and r.get_json()["code"] == "method-not-allowed"


def test_the_api_needs_no_csrf_token_even_with_csrf_on(api: ApiClient) -> None:
    api.app.config["WTF_CSRF_ENABLED"] = True
    submitted(api, api.post(api.project("/expenditures"), "pm", INVOICE))
