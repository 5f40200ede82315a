"""The authorisation matrix: every API endpoint x every role (and no token).

"deny" is 401 without a token and 403 for a role that may not act; "allow" is anything
else short of a server error -- the request got past authorisation, and the first allowed
role's request succeeds (2xx) where the template's state lets it. Each endpoint runs on
its own copy of the template ledger; roles that must be denied go first, so their
attempts (which write nothing) cannot change what the allowed ones meet.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from tests.api.conftest import PASSWORD, ApiClient
from tests.domain.helpers import CODE

ROLES = ["pm", "pm2", "fiscal", "fiscal2", "sponsor", "pmo", "auditor", "admin"]
EVERYONE = set(ROLES)
PMS = {"pm", "pm2"}
FISCAL = {"fiscal", "fiscal2"}
OVERSIGHT = {"auditor", "pmo", "admin"}
P = f"projects/{CODE}"


class Endpoint(NamedTuple):
    method: str
    path: str  # as in the OpenAPI document
    url: str
    allowed: set[str]
    body: Any = None
    succeeds: bool = True  # the first allowed role's request gets a 2xx


INVOICE = {"line": "HW-01", "amount": "100.00", "vendor": "Acme", "invoice_number": "M-1",
           "invoice_date": "2025-04-01", "description": "cables"}
REASON = {"reason": "matrix"}

ENDPOINTS = [
    Endpoint("GET", "/api/v1/projects", "projects", EVERYONE),
    Endpoint("POST", "/api/v1/projects", "projects", PMS, {
        "code": "IT-2026-099", "title": "T", "sponsor": "sponsor", "project_manager": "pm",
        "start_date": "2025-01-01", "target_finish_date": "2025-12-31", "fund": "GF",
        "capital": False, "objectives": ["o"], "scope_statement": "s"}),
    Endpoint("GET", "/api/v1/projects/{code}", P, EVERYONE),
    Endpoint("GET", "/api/v1/projects/{code}/variance", f"{P}/variance", EVERYONE),
    Endpoint("GET", "/api/v1/projects/{code}/budget", f"{P}/budget", EVERYONE),
    Endpoint("POST", "/api/v1/projects/{code}/amendments", f"{P}/amendments", PMS,
             {"scope_statement": "wider", "reason": "matrix"}),
    Endpoint("POST", "/api/v1/projects/{code}/budget-lines", f"{P}/budget-lines", PMS,
             {"line": "TR-01", "category": "training", "amount": "10.00"}),
    Endpoint("POST", "/api/v1/projects/{code}/milestones", f"{P}/milestones", PMS, {
        "milestone": "M-09", "name": "Train", "planned_start": "2025-01-01",
        "planned_finish": "2025-02-01", "budgeted_value": "10.00"}),
    Endpoint("POST", "/api/v1/projects/{code}/milestones/{milestone}/acceptance",
             f"{P}/milestones/M-01/acceptance", {"sponsor"}, {"accepted_on": "2025-07-01"},
             succeeds=False),
    Endpoint("POST", "/api/v1/projects/{code}/deliverables", f"{P}/deliverables", PMS,
             {"deliverable": "D-09", "name": "Manual"}),
    Endpoint("POST", "/api/v1/projects/{code}/progress", f"{P}/progress", PMS,
             {"milestone": "M-01", "percent_complete": 10, "as_of": "2025-02-01"}),
    Endpoint("POST", "/api/v1/projects/{code}/expenditures", f"{P}/expenditures", PMS, INVOICE),
    Endpoint("POST", "/api/v1/projects/{code}/expenditures/{item}/approve",
             f"{P}/expenditures/EXP-0001/approve", FISCAL | {"sponsor"}, {}),
    Endpoint("POST", "/api/v1/projects/{code}/expenditures/{item}/reject",
             f"{P}/expenditures/EXP-0001/reject", FISCAL | {"sponsor"}, REASON),
    Endpoint("POST", "/api/v1/projects/{code}/expenditures/{item}/reverse",
             f"{P}/expenditures/EXP-0002/reverse", FISCAL, REASON),
    Endpoint("POST", "/api/v1/projects/{code}/commitments", f"{P}/commitments", PMS,
             {"po_number": "PO-77", "vendor": "Acme", "line": "LB-01", "amount": "10.00"}),
    Endpoint("POST", "/api/v1/projects/{code}/commitments/{item}/approve",
             f"{P}/commitments/PO-1/approve", FISCAL | {"sponsor"}, {}),
    Endpoint("POST", "/api/v1/projects/{code}/commitments/{item}/reject",
             f"{P}/commitments/PO-1/reject", FISCAL | {"sponsor"}, REASON),
    Endpoint("POST", "/api/v1/projects/{code}/commitments/{item}/close",
             f"{P}/commitments/PO-2/close", PMS | FISCAL, REASON),
    Endpoint("POST", "/api/v1/projects/{code}/commitments/{item}/release",
             f"{P}/commitments/PO-2/release", FISCAL, REASON),
    Endpoint("POST", "/api/v1/projects/{code}/transfers", f"{P}/transfers", PMS,
             {"from_line": "LB-01", "to_line": "HW-01", "amount": "10.00", "reason": "m"}),
    Endpoint("POST", "/api/v1/projects/{code}/transfers/{item}/approve",
             f"{P}/transfers/TR-001/approve", FISCAL, {}),
    Endpoint("POST", "/api/v1/projects/{code}/transfers/{item}/reject",
             f"{P}/transfers/TR-001/reject", FISCAL, REASON),
    Endpoint("POST", "/api/v1/projects/{code}/change-requests", f"{P}/change-requests", PMS,
             {"title": "T", "description": "d", "justification": "j", "scope_impact": "more"}),
    Endpoint("POST", "/api/v1/projects/{code}/change-requests/{item}/approve",
             f"{P}/change-requests/CR-001/approve", {"sponsor"}, {}),
    Endpoint("POST", "/api/v1/projects/{code}/change-requests/{item}/reject",
             f"{P}/change-requests/CR-001/reject", {"sponsor"}, REASON),
    Endpoint("POST", "/api/v1/projects/{code}/change-requests/{item}/withdraw",
             f"{P}/change-requests/CR-001/withdraw", PMS, REASON),
    Endpoint("POST", "/api/v1/projects/{code}/gates/{gate}/reviews", f"{P}/gates/G1/reviews", PMS,
             {"artifacts": [{"name": "plan.pdf"}]}, succeeds=False),
    Endpoint("POST", "/api/v1/projects/{code}/gates/{gate}/signoffs", f"{P}/gates/G0/signoffs",
             {"pmo", "sponsor"}, {"decision": "approved"}),
    Endpoint("POST", "/api/v1/projects/{code}/gates/{gate}/conditions-met",
             f"{P}/gates/G0/conditions-met", {"pmo", "sponsor"},
             {"conditions": ["x"], "reason": "m"}, succeeds=False),
    Endpoint("POST", "/api/v1/projects/{code}/risks", f"{P}/risks", PMS, {
        "title": "R", "probability": 1, "impact": 1, "owner": "pm", "mitigation": "m"}),
    Endpoint("POST", "/api/v1/projects/{code}/risks/{item}/updates", f"{P}/risks/R-001/updates",
             PMS, {"reason": "m", "impact": 5}),
    Endpoint("POST", "/api/v1/projects/{code}/risks/{item}/close", f"{P}/risks/R-001/close", PMS,
             REASON),
    Endpoint("POST", "/api/v1/projects/{code}/issues", f"{P}/issues", PMS,
             {"title": "I", "description": "d", "severity": "low", "owner": "pm"}),
    Endpoint("POST", "/api/v1/projects/{code}/issues/{item}/escalate",
             f"{P}/issues/I-001/escalate", PMS, {"to": "sponsor", "reason": "m"}),
    Endpoint("POST", "/api/v1/projects/{code}/issues/{item}/resolve",
             f"{P}/issues/I-001/resolve", PMS, {"resolution": "done"}),
    Endpoint("POST", "/api/v1/projects/{code}/status-reports", f"{P}/status-reports", PMS, {
        "period_start": "2025-03-01", "period_end": "2025-03-31", "overall": "green",
        "schedule": "green", "budget": "green", "scope": "green", "summary": "fine"}),
    Endpoint("GET", "/api/v1/queue", "queue", EVERYONE),
    Endpoint("GET", "/api/v1/compliance/findings", "compliance/findings", OVERSIGHT),
    Endpoint("GET", "/api/v1/ledger/verify", "ledger/verify", OVERSIGHT),
    Endpoint("GET", "/api/v1/ledger/verify/jobs/{job_id}", "ledger/verify/jobs/000000000000",
             OVERSIGHT, succeeds=False),
    Endpoint("GET", "/api/v1/ledger/checkpoint", "ledger/checkpoint", OVERSIGHT),
    Endpoint("GET", "/api/v1/ledger/events", "ledger/events", OVERSIGHT),
]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_every_role_is_allowed_or_denied_as_expected(api: ApiClient, endpoint: Endpoint) -> None:
    outcome: dict[str, int] = {}
    size = api.size()
    r = api.call(endpoint.method, endpoint.url, None, endpoint.body)
    assert r.status_code == 401 and r.get_json()["code"] == "unauthorised"
    denied = [role for role in ROLES if role not in endpoint.allowed]
    allowed = [role for role in ROLES if role in endpoint.allowed]
    for role in denied:
        r = api.call(endpoint.method, endpoint.url, role, endpoint.body)
        outcome[role] = r.status_code
        assert r.status_code == 403, (role, r.get_json())
        assert r.get_json()["code"] in ("forbidden", "segregation-of-duties")
    assert api.size() == size, "a denied request wrote to the log"
    for i, role in enumerate(allowed):
        r = api.call(endpoint.method, endpoint.url, role, endpoint.body)
        outcome[role] = r.status_code
        assert r.status_code not in (401, 403) and r.status_code < 500, (role, r.get_json())
        if i == 0 and endpoint.succeeds:
            assert 200 <= r.status_code < 300, (role, r.get_json())


def test_every_role_gets_a_token_with_its_password(api: ApiClient) -> None:
    for role in [*ROLES]:
        r = api.post("tokens", None, {"username": role, "password": PASSWORD})
        assert r.status_code == 201, (role, r.get_json())
        api.tokens[f"fresh-{role}"] = r.get_json()["token"]
        assert api.get("projects", f"fresh-{role}").status_code == 200


def test_the_matrix_covers_every_api_route(api: ApiClient) -> None:
    spec = api.client.get("/api/v1/openapi.json").get_json()
    documented = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops
                  if m in ("get", "post", "put", "patch", "delete")}
    # Revoking a token: its owner or an administrator (tests/api/test_tokens.py).
    covered = {(e.method, e.path) for e in ENDPOINTS} | {
        ("POST", "/api/v1/tokens"), ("DELETE", "/api/v1/tokens/{token_id}")}
    assert documented == covered
