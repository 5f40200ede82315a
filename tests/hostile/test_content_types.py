"""Wrong content types and awkward JSON get a clean 4xx JSON error with a code, and
nothing is written: text/plain or form-encoded bodies to the JSON API (415), JSON to the
HTML forms, malformed JSON, NaN/Infinity, numbers too big to decode, floats for money,
JSON nested too deeply (400), and bodies of the wrong JSON type (422)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.domain.helpers import CODE
from tests.hostile.conftest import Hostile, error_body

P = f"projects/{CODE}"
INVOICE = {"line": "HW-01", "amount": "10.00", "vendor": "Acme", "invoice_number": "CT-1",
           "invoice_date": "2025-04-01", "description": "cables"}


def refused(h: Hostile, status: int, code: str, method: str, path: str, who: str | None = "pm",
            **kwargs: Any) -> dict[str, Any]:
    before = h.size()
    body = error_body(h.api(method, path, who, **kwargs), status)
    assert body["code"] == code, body
    assert h.size() == before, "a refused request wrote to the log"
    return body


WRONG_TYPES = [
    ("text/plain", json.dumps(INVOICE)),
    ("application/x-www-form-urlencoded", "line=HW-01&amount=10.00&vendor=Acme"),
    ("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n"),
    ("application/xml", "<expenditure><line>HW-01</line></expenditure>"),
    (None, json.dumps(INVOICE)),
]


@pytest.mark.parametrize(("content_type", "data"), WRONG_TYPES)
def test_a_body_of_another_media_type_is_415(hostile: Hostile, content_type: str | None,
                                             data: str) -> None:
    body = refused(hostile, 415, "unsupported-media-type", "POST", f"{P}/expenditures",
                   data=data.encode(), content_type=content_type)
    assert "application/json" in body["message"]


def test_a_form_encoded_approval_is_not_read_as_an_empty_one(hostile: Hostile) -> None:
    """Regression: webargs ignored non-JSON bodies, so this approval went through as `{}`."""
    refused(hostile, 415, "unsupported-media-type", "POST", f"{P}/expenditures/EXP-0001/approve",
            "fiscal", data=b"reason=looks+fine", content_type="application/x-www-form-urlencoded")
    assert hostile.pmo.project(CODE).expenditure("EXP-0001")["status"] == "pending"


def test_an_empty_body_is_no_fields_and_json_types_with_parameters_are_json(hostile: Hostile) -> None:
    refused(hostile, 422, "validation", "POST", f"{P}/expenditures", data=b"",
            content_type="application/json")
    before = hostile.size()
    response = hostile.api("POST", f"{P}/expenditures", "pm", data=json.dumps(INVOICE).encode(),
                           content_type="application/json; charset=utf-8")
    assert response.status_code == 201 and hostile.size() == before + 1, response.data


BAD_JSON = [
    b'{"line": "HW-01", "amount": ',
    b"{'line': 'HW-01'}",
    b'{"line": "HW-01",}',
    b"\xff\xfe{}",
    b'{"amount": NaN}',
    b'{"amount": Infinity}',
    b'{"amount": -Infinity}',
    b'{"amount": 1e999}',
    b'{"amount": ' + b"9" * 5000 + b"}",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
]


@pytest.mark.parametrize("data", BAD_JSON, ids=lambda d: repr(d[:24]))
def test_malformed_or_non_strict_json_is_400(hostile: Hostile, data: bytes) -> None:
    body = refused(hostile, 400, "bad-request", "POST", f"{P}/expenditures", data=data,
                   content_type="application/json")
    assert "not valid JSON" in body["message"]


WRONG_VALUES = [
    ({**INVOICE, "amount": 10.5}, "amount"),
    ({**INVOICE, "amount": 10.0}, "amount"),
    ({**INVOICE, "amount": True}, "amount"),
    ({**INVOICE, "amount": 10**30}, "amount"),
    ({**INVOICE, "amount": "1" + "0" * 40}, "amount"),
    ({**INVOICE, "amount": "1e3"}, "amount"),
    ({**INVOICE, "amount": "0.001"}, "amount"),
    ({**INVOICE, "amount": {"$gt": 0}}, "amount"),
    ({**INVOICE, "vendor": ["a", "b"]}, "vendor"),
    ({**INVOICE, "vendor": None}, "vendor"),
    ({**INVOICE, "invoice_date": 20250401}, "invoice_date"),
    ({**INVOICE, "description": "x" * 4001}, "description"),
    ({**INVOICE, "extra": "typo"}, "extra"),
    ({**INVOICE, "description": json.loads('{"a":' * 500 + "1" + "}" * 500)}, "description"),
]


@pytest.mark.parametrize(("body", "field"), WRONG_VALUES,
                         ids=lambda v: v if isinstance(v, str) else repr(v)[-30:])
def test_values_of_the_wrong_kind_are_422(hostile: Hostile, body: Any, field: str) -> None:
    error = refused(hostile, 422, "validation", "POST", f"{P}/expenditures", json_body=body)
    assert field in error["errors"], error


@pytest.mark.parametrize("body", [[], [INVOICE], "text", 42, None, True],
                         ids=["list", "list-of-object", "string", "number", "null", "true"])
def test_a_body_that_is_not_an_object_is_422(hostile: Hostile, body: Any) -> None:
    refused(hostile, 422, "validation", "POST", f"{P}/expenditures", json_body=body)


def test_whole_numbers_refuse_floats_bools_and_huge_values(hostile: Hostile) -> None:
    risk = {"title": "t", "owner": "o", "mitigation": "m"}
    for value in (2.5, True, 10**40, "3.0", "NaN"):
        error = refused(hostile, 422, "validation", "POST", f"{P}/risks",
                        json_body={**risk, "probability": value, "impact": 2})
        assert "probability" in error["errors"], error
    for query in ({"after": "1e3"}, {"limit": str(10**40)}, {"after": "-1"}):
        refused(hostile, 422, "validation", "GET", "ledger/events", "auditor", query=query)


def test_json_sent_to_an_html_form_is_refused(hostile: Hostile) -> None:
    """A form endpoint reads form fields: JSON carries none (and no CSRF token) -> 400;
    with the token in a header, the JSON's fields are still not form fields -> 422."""
    client = hostile.sign_in("pm")
    before = hostile.size()
    url = f"/projects/{CODE}/act/expenditure"
    response = client.post(url, json=INVOICE)
    assert response.status_code == 400 and hostile.size() == before
    page = client.get(url).get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(url, json=INVOICE, headers={"X-CSRFToken": token})
    assert response.status_code == 422 and hostile.size() == before
    assert "Nothing was recorded" in response.get_data(as_text=True)


def test_the_log_verifies(hostile: Hostile) -> None:
    assert hostile.verified()


def test_huge_or_exotic_log_positions_are_refused_not_a_500(hostile: Hostile) -> None:
    """Regression: 2^63 reached SQLite (OverflowError) and "²" passed str.isdigit()."""
    for query in ({"position": 2**63}, {"position": 2**53 + 1}):
        refused(hostile, 422, "validation", "GET", P, "auditor", query=query)
    refused(hostile, 422, "validation", "GET", "ledger/events", "auditor", query={"after": 2**63})
    auditor, fiscal = hostile.sign_in("auditor"), hostile.sign_in("fiscal")
    for value in (str(2**63), "²", "١٢", "9" * 40):
        assert auditor.get(f"/audit/projects/{CODE}/as-of", query_string={
            "position": value}).status_code == 400, value
        assert auditor.get("/audit/log", query_string={"before": value}).status_code == 400
    assert auditor.get(f"/audit/events/{2**63}").status_code == 404
    assert fiscal.get(f"/queues/fiscal/receipt/{2**63}").status_code == 404
