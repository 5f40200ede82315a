"""SQL-looking input is harmless: refused (4xx, nothing written) or stored literally, in
every field and in every query or filter parameter; the tables stay and the log verifies."""

from __future__ import annotations

from typing import Any

import pytest

from tests.domain.helpers import CODE
from tests.hostile.conftest import PASSWORD, Hostile, csrf_token, error_body

DROP = "'; DROP TABLE stored_events; --"
OR = "1 OR 1=1"
QUOTE = "x' OR '1'='1"
UNION = "' UNION SELECT token_hash, username FROM api_tokens --"
SQL = (DROP, OR, QUOTE, UNION)
P = f"projects/{CODE}"


@pytest.fixture(scope="module")
def tables(hostile: Hostile) -> set[str]:
    """The tables at the start (read models and the like may add more later; none may go)."""
    return hostile.tables()


@pytest.mark.parametrize("text", SQL)
def test_sql_in_free_text_is_stored_literally(hostile: Hostile, tables: set[str], text: str) -> None:
    response = hostile.api("POST", f"{P}/risks", "pm", json_body={
        "title": text, "probability": 2, "impact": 2, "owner": text, "mitigation": text,
        "description": text})
    assert response.status_code == 201, response.data
    risk = response.get_json()["id"]
    stored = hostile.api("GET", P, "auditor").get_json()["risks"][risk]
    assert (stored["title"], stored["owner"], stored["mitigation"]) == (text, text, text)
    assert tables <= hostile.tables()


CODE_FIELDS = [
    ("budget-lines", {"line": DROP, "category": "hardware", "amount": "1.00"}, "line"),
    ("budget-lines", {"line": "X-1", "category": OR, "amount": "1.00"}, "category"),
    ("budget-lines", {"line": "X-1", "category": "hardware", "amount": OR}, "amount"),
    ("expenditures", {"line": QUOTE, "amount": "1.00", "vendor": "v", "invoice_number": "i",
                      "invoice_date": "2025-01-01", "description": "d"}, "line"),
    ("expenditures", {"line": "HW-01", "amount": "1.00", "vendor": "v", "invoice_number": "i",
                      "invoice_date": DROP, "description": "d"}, "invoice_date"),
    ("commitments", {"po_number": UNION, "vendor": "v", "line": "HW-01", "amount": "1.00"},
     "po_number"),
    ("risks", {"title": "t", "probability": OR, "impact": 1, "owner": "o", "mitigation": "m"},
     "probability"),
    ("status-reports", {"period_start": "2025-01-01", "period_end": "2025-01-31",
                        "overall": DROP, "schedule": "green", "budget": "green",
                        "scope": "green", "summary": "s"}, "overall"),
]


@pytest.mark.parametrize(("path", "body", "field"), CODE_FIELDS)
def test_sql_in_a_structured_field_is_refused(hostile: Hostile, tables: set[str], path: str,
                                              body: dict[str, Any], field: str) -> None:
    before = hostile.size()
    body_ = error_body(hostile.api("POST", f"{P}/{path}", "pm", json_body=body), 422)
    assert body_["code"] == "validation" and field in body_["errors"], body_
    assert hostile.size() == before and tables <= hostile.tables()


API_QUERIES = [
    ("GET", f"projects/{DROP}", None, 404),
    ("GET", f"projects/{CODE}%27%20OR%20%271%27=%271", None, 404),
    ("POST", f"projects/{CODE}/expenditures/{QUOTE}/approve", "fiscal", 404),
    ("POST", f"projects/{CODE}/gates/{OR}/signoffs", "sponsor", (404, 422)),
    ("GET", P, "as_of", 422),
    ("GET", P, "position", 422),
    ("GET", f"{P}/variance", "as_of", 422),
    ("GET", "ledger/events", "after", 422),
    ("GET", "ledger/events", "limit", 422),
    ("GET", "compliance/findings", "project", 422),
    ("GET", "ledger/checkpoint", "format", 422),
]


@pytest.mark.parametrize(("method", "path", "param", "status"), API_QUERIES)
@pytest.mark.parametrize("text", (DROP, OR))
def test_sql_in_api_paths_and_queries_is_refused(hostile: Hostile, tables: set[str], method: str,
                                                 path: str, param: str | None,
                                                 status: int | tuple[int, ...], text: str) -> None:
    before = hostile.size()
    who = param if param in ("fiscal", "sponsor") else "auditor"
    query = {param: text} if param and who == "auditor" else None
    body = {"decision": "approved"} if "signoffs" in path else ({} if method == "POST" else None)
    kwargs = {"json_body": body} if body is not None else {}
    response = hostile.api(method, path, who, query=query, **kwargs)
    error_body(response, status)
    assert hostile.size() == before and tables <= hostile.tables()


PAGE_FILTERS = [
    ("/audit/log", {"project": QUOTE, "actor": DROP, "event": "%' OR 1=1 --"}, 200),
    ("/audit/log", {"event": UNION}, 200),
    ("/audit/log", {"since": OR}, 400),
    ("/audit/log", {"until": DROP}, 400),
    ("/audit/log", {"before": OR}, 400),
    (f"/audit/projects/{CODE}/as-of", {"date": DROP}, 400),
    (f"/audit/projects/{CODE}/as-of", {"position": OR}, 400),
    (f"/audit/projects/{CODE}/history", {"field": QUOTE}, 200),
    (f"/audit/projects/{QUOTE}/history", {}, (200, 404)),
    ("/audit/findings", {"project": UNION}, 200),
    ("/reports/budget", {"project": QUOTE}, 404),
    ("/reports/variance", {"as_of": DROP}, 400),
    (f"/projects/{CODE}", {"as_of": OR}, 400),
]


@pytest.mark.parametrize(("url", "query", "status"), PAGE_FILTERS)
def test_sql_in_page_filters_is_harmless(hostile: Hostile, tables: set[str], url: str,
                                         query: dict[str, str], status: int | tuple[int, ...]) -> None:
    who = "fiscal" if url.startswith("/reports") else "pm" if url.startswith("/projects") else "auditor"
    client = hostile.sign_in(who)
    before = hostile.size()
    response = client.get(url, query_string=query)
    assert response.status_code in ((status,) if isinstance(status, int) else status), (
        url, response.status_code)
    html = response.get_data(as_text=True)
    if url == "/audit/log" and status == 200:
        # A filter that matched "everything" would list the log; a literal one lists nothing.
        assert "/audit/events/" not in html, "the SQL-looking filter matched events"
    assert hostile.size() == before and tables <= hostile.tables()


def test_sql_in_sign_in_and_token_requests_gets_nobody_in(hostile: Hostile) -> None:
    attempts = (("admin' --", "x"), ("admin", QUOTE), (QUOTE, QUOTE),
                ("admin' OR '1'='1", PASSWORD))
    for username, password in attempts:
        body = error_body(hostile.api("POST", "tokens", None, json_body={
            "username": username, "password": password}), (401, 429))
        assert body["code"] in ("unauthorised", "too-many-requests")
    for username, password in attempts:
        client = hostile.app.test_client()
        response = client.post("/signin", data={
            "username": username, "password": password,
            "csrf_token": csrf_token(client, "/signin")})
        assert response.status_code in (401, 429), response.status_code
        assert client.get(f"/projects/{CODE}").status_code == 302  # still signed out


def test_tables_are_intact_and_the_log_verifies(hostile: Hostile, tables: set[str]) -> None:
    assert tables <= hostile.tables() and hostile.verified()
    count = hostile.pmo.recorder.fetch("SELECT COUNT(*) FROM {events}")[0][0]
    assert count >= hostile.size()
