"""Issue 17 item 12: a JSON body that repeats a key is refused (422 `validation`, naming
the key), not read as its last value; nothing is written."""

from __future__ import annotations

import pytest

from tests.api.conftest import ApiClient, refused
from web.api.parsing import strict_json

INVOICE = ('"line": "HW-01", "vendor": "Acme", "invoice_number": "DUP-1", '
           '"invoice_date": "2025-04-01", "description": "cables"')


def _raw(api: ApiClient, path: str, who: str, body: str):  # noqa: ANN202
    return api.client.post(f"/api/v1/{path}", data=body.encode(), headers={
        **api.headers(who), "Content-Type": "application/json"})


def test_a_repeated_key_is_refused_naming_it(api: ApiClient) -> None:
    before = api.size()
    body = "{" + INVOICE + ', "amount": "1.00", "amount": "2.00"}'
    response = _raw(api, api.project("/expenditures"), "pm", body)
    error = refused(api, response, 422, "validation", before)
    assert "amount" in error["errors"], error
    assert "amount" in error["message"] and "more than once" in error["message"], error


def test_a_repeated_key_inside_a_nested_object_is_refused(api: ApiClient) -> None:
    before = api.size()
    body = ('{"title": "T", "description": "d", "justification": "j", '
            '"cost_impacts": [{"line": "HW-01", "amount": "5.00", "line": "LB-01"}]}')
    response = _raw(api, api.project("/change-requests"), "pm", body)
    error = refused(api, response, 422, "validation", before)
    assert "line" in error["errors"], error


def test_a_repeated_key_is_refused_even_with_the_same_value(api: ApiClient) -> None:
    before = api.size()
    body = '{"reason": "x", "reason": "x"}'
    response = _raw(api, api.project("/expenditures/EXP-0001/reject"), "fiscal", body)
    refused(api, response, 422, "validation", before)


def test_the_same_key_in_different_objects_is_fine(api: ApiClient) -> None:
    before = api.size()
    body = ('{"title": "T", "description": "d", "justification": "j", "cost_impacts": '
            '[{"line": "HW-01", "amount": "5.00"}, {"line": "LB-01", "amount": "-5.00"}]}')
    response = _raw(api, api.project("/change-requests"), "pm", body)
    assert response.status_code == 201, response.get_json()
    assert api.size() == before + 1


@pytest.mark.parametrize("text", ['{"a": 1, "a": 1}', '[{"b": {"c": 1, "c": 2}}]'])
def test_strict_json_names_the_repeated_key(text: str) -> None:
    with pytest.raises(ValueError, match="more than once"):
        strict_json(text.encode())
