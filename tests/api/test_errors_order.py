"""Issue 17 item 16: authentication first, then validation, on every operation; every API
error in the JSON error shape with its status (405 with Allow, 414 from the app, 404 for an
unknown path...); and a list field in a JSON body takes only a list."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.conftest import ApiClient, refused
from web.errors import MAX_URL_BYTES
from web.serve import options

# Path parameters of the template's things (an operation answers 401 before it would look).
PATH_VALUES = {"code": "IT-2026-014", "item": "X-1", "gate": "G1", "milestone": "M-01",
               "token_id": "t-1", "job_id": "j-1"}


def _operations(api: ApiClient) -> list[tuple[str, str, dict[str, Any]]]:
    spec = api.client.get("/api/v1/openapi.json").get_json()
    return [(method.upper(), re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m[1]], path), op)
            for path, ops in spec["paths"].items() for method, op in ops.items()
            if method in ("get", "post", "put", "patch", "delete")]


def _unauthorised(response: Any) -> None:
    body = response.get_json()
    assert response.status_code == 401, (response.status_code, body)
    assert body["code"] == "unauthorised" and set(body) >= {"code", "message", "errors"}, body
    assert response.headers["WWW-Authenticate"].startswith("Bearer"), response.headers


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_without_a_valid_token_every_operation_is_401_before_its_input_is_read(
        api: ApiClient, token: str | None) -> None:
    """A body or query its schema refuses (422), a body that is not JSON (400) or of another
    media type (415): without a valid token all of them are 401, on every operation."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    checked = 0
    for method, url, op in _operations(api):
        if op.get("security") == []:  # POST /tokens: the sign-in itself
            continue
        checked += 1
        bad_inputs = [{"query_string": {"no_such_parameter": "1"}}]
        if "requestBody" in op:
            bad_inputs += [{"json": {"no_such_field": 1}}, {"json": {"reason": 7}},
                           {"data": b"{not json", "content_type": "application/json"},
                           {"data": "a=1", "content_type": "application/x-www-form-urlencoded"}]
        for bad in bad_inputs:
            response = api.client.open(url, method=method, headers=headers, **bad)
            assert response.status_code == 401, (method, url, bad, response.get_json())
            _unauthorised(response)
    assert checked >= 40, checked


def test_the_token_endpoint_needs_no_token_and_still_validates(api: ApiClient) -> None:
    response = api.client.post("/api/v1/tokens", json={"username": "pm"})
    assert response.status_code == 422 and "password" in response.get_json()["errors"]


def test_options_answers_allow_without_a_token(api: ApiClient) -> None:
    response = api.client.options("/api/v1/projects")
    assert response.status_code == 200
    assert {"GET", "POST"} <= _allowed(response)


def _allowed(response: Any) -> set[str]:
    return {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "projects", {"GET", "POST"}),
    ("DELETE", "projects/IT-2026-014", {"GET"}),
    ("TRACE", "ledger/events", {"GET"}),
    ("GET", "projects/IT-2026-014/expenditures/EXP-0001/approve", {"POST"}),
    ("PATCH", "tokens", {"POST"}),
])
def test_a_405_is_json_and_names_the_allowed_methods(api: ApiClient, method: str, path: str,
                                                     allowed: set[str]) -> None:
    before = api.size()
    for who in (None, "pm"):
        response = api.call(method, path, who)
        refused(api, response, 405, "method-not-allowed", before)
        assert allowed <= _allowed(response) <= allowed | {"HEAD", "OPTIONS"}, response.headers


def test_a_url_over_the_limit_is_a_json_414_from_the_app(api: ApiClient) -> None:
    before = api.size()
    long_query = {"as_of": "x" * MAX_URL_BYTES}
    for who in (None, "auditor"):
        response = api.call("GET", "projects/IT-2026-014", who, query=long_query)
        refused(api, response, 414, "uri-too-long", before)
    response = api.call("POST", "projects/" + "A" * MAX_URL_BYTES, "pm", {"title": "x"})
    refused(api, response, 414, "uri-too-long", before)
    # Just under the limit the request is read as usual (refused for its value, not its size).
    response = api.call("GET", "projects/IT-2026-014", "auditor",
                        query={"as_of": "x" * (MAX_URL_BYTES - 100)})
    assert response.status_code == 422, response.get_json()


def test_gunicorn_lets_the_app_answer_long_urls() -> None:
    """gunicorn answers a request line over its `limit_request_line` itself, with an HTML
    page: it must be above the app's limit plus the method and the protocol."""
    from flask import Flask

    limit = options(Flask("x"), "127.0.0.1", 5000, 1, 1)["limit_request_line"]
    assert limit >= len("OPTIONS ") + MAX_URL_BYTES + len(" HTTP/1.1"), limit


def test_a_long_url_to_a_page_is_414_too(api: ApiClient) -> None:
    response = api.client.get("/projects?q=" + "x" * MAX_URL_BYTES)
    assert response.status_code == 414 and response.mimetype != "application/json"


@pytest.mark.parametrize(("path", "who", "status", "code"), [
    ("/api/v1/no-such-thing", None, 404, "not-found"),
    ("/api/v1/no-such-thing", "pm", 404, "not-found"),
    ("/api/v1/projects/NO-SUCH-1", "auditor", 404, "not-found"),
    ("/api/v1/ledger/events", "pm", 403, "forbidden"),
    ("/api/v1/ledger/events", None, 401, "unauthorised"),
])
def test_every_api_error_is_the_json_shape(api: ApiClient, path: str, who: str | None,
                                           status: int, code: str) -> None:
    refused(api, api.call("GET", path, who), status, code, api.size())


def test_a_body_over_the_size_limit_is_a_json_413(api: ApiClient) -> None:
    api.app.config["MAX_CONTENT_LENGTH"] = 1000
    before = api.size()
    response = api.client.post(f"/api/v1/{api.project('/risks')}", headers=api.headers("pm"),
                               data=b"{" + b" " * 2000 + b"}", content_type="application/json")
    refused(api, response, 413, "too-large", before)


def test_a_body_of_another_media_type_is_a_json_415(api: ApiClient) -> None:
    before = api.size()
    response = api.client.post(f"/api/v1/{api.project('/risks')}", headers=api.headers("pm"),
                               data="title=x", content_type="text/plain")
    refused(api, response, 415, "unsupported-media-type", before)


def test_too_many_failed_sign_ins_is_a_json_429(api: ApiClient) -> None:
    statuses = []
    for _ in range(8):
        response = api.client.post("/api/v1/tokens", json={"username": "pm", "password": "wrong"})
        statuses.append(response.status_code)
        if response.status_code == 429:
            refused(api, response, 429, "too-many-requests", api.size())
            assert int(response.headers["Retry-After"]) >= 1
            return
    pytest.fail(f"never throttled: {statuses}")


# A list field takes a list ----------------------------------------------------------------------


CHARTER = {"code": "IT-2026-077", "title": "Kiosks", "sponsor": "sponsor", "project_manager": "pm",
           "start_date": "2026-01-01", "target_finish_date": "2026-12-31", "fund": "General Fund",
           "capital": True, "objectives": ["Self-service kiosks"], "scope_statement": "Branches"}


@pytest.mark.parametrize(("path", "who", "body", "field"), [
    ("projects", "pm", {**CHARTER, "objectives": "AAA"}, "objectives"),
    ("projects", "pm", {**CHARTER, "objectives": "one\ntwo"}, "objectives"),
    ("projects/IT-2026-014/amendments", "pm", {"objectives": "AAA", "reason": "r"}, "objectives"),
    ("projects/IT-2026-014/gates/G0/conditions-met", "pmo",
     {"conditions": "security review", "reason": "r"}, "conditions"),
    ("projects/IT-2026-014/gates/G1/reviews", "pm", {"artifacts": "plan.pdf"}, "artifacts"),
])
def test_a_string_for_a_list_is_refused(api: ApiClient, path: str, who: str, body: dict[str, Any],
                                        field: str) -> None:
    before = api.size()
    error = refused(api, api.post(path, who, body), 422, "validation", before)
    assert field in error["errors"], error


def test_a_list_is_taken_as_given(api: ApiClient) -> None:
    """One item holding a line break stays one item (the form's textarea is split by the
    form reader, not by the schema)."""
    objectives = ["Kiosks in\nten branches", "Maps"]
    response = api.post("projects", "pm", {**CHARTER, "objectives": objectives})
    assert response.status_code == 201, response.get_json()
    project = api.get("projects/IT-2026-077").get_json()
    assert project["charter"]["objectives"] == objectives
