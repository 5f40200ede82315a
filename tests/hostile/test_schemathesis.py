"""schemathesis against /api/v1/openapi.json: every operation, driven in-process (WSGI).

Each case is sent with the bearer token of a person whose role may call the operation, so
the generated bodies reach the schemas and the domain (not just the 401/403 gate). Path
parameters point at the module ledger's real project and items most of the time (and stay
random otherwise, for the 404s). The module shares one ledger, so accepted submissions
pile up and later decisions meet them: a light, deterministic form of stateful testing
(the spec has no OpenAPI links for schemathesis' state machine to follow).

Checked for every case: no 5xx; the status is one the operation documents explicitly (not
only through `default`); the body matches the documented schema and content type; invalid
input is refused; and a refused (4xx) request leaves the log exactly as it was.
"""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.domain.helpers import CODE
from tests.hostile.conftest import Hostile
from web.app import create_app

# Per test: ~43 operations x examples; bounded so the hostile suite stays within minutes on
# two shared cores. derandomize: the same cases on every run (CI is deterministic).
EXAMPLES = 100


def _spec() -> dict[str, Any]:
    """The OpenAPI document, from an app that never opens its ledger (the spec needs none)."""
    app = create_app({"LEDGER_DB": "sqlite:////nonexistent/never-opened.db",
                      "SECRET_KEY": "spec", "TESTING": True})
    return app.test_client().get("/api/v1/openapi.json").get_json()


SPEC = _spec()
schema = schemathesis.openapi.from_dict(SPEC)
schema.config.generation.update(max_examples=EXAMPLES)

# Known path values of the module ledger (tests/api/conftest.py's scenario).
ITEMS = {"expenditures": ["EXP-0001", "EXP-0002"], "commitments": ["PO-1", "PO-2"],
         "transfers": ["TR-001"], "change-requests": ["CR-001"], "risks": ["R-001"],
         "issues": ["I-001"]}
REAL = {"code": [CODE], "gate": ["G0", "G1", "G2", "G3", "G4"], "milestone": ["M-01", "M-02"]}
FISCAL_DECISIONS = {"approve", "reject", "reverse", "release"}


def role_for(method: str, path: str) -> str | None:
    """A person whose role may call the operation (None: the operation needs no token)."""
    if path.endswith("/tokens"):
        return None
    if method == "GET":
        return "auditor"
    parts = path.split("/")
    kind, decision = (parts[-3], parts[-1]) if "{item}" in parts else (None, None)
    if kind == "change-requests":
        return "pm" if decision == "withdraw" else "sponsor"
    if kind in ("expenditures", "commitments", "transfers") and decision in FISCAL_DECISIONS:
        return "fiscal"
    if path.endswith(("/acceptance", "/signoffs")):
        return "sponsor"
    if path.endswith("/conditions-met"):
        return "pmo"
    return "pm"


def aim(case: Any) -> None:
    """Point path parameters at real things three times in four (chosen from the generated
    value itself, so the choice is as deterministic as the generation)."""
    params = case.path_parameters or {}
    parts = case.operation.path.split("/")
    for name, value in list(params.items()):
        pick = zlib.crc32(repr(value).encode())
        if pick % 4 == 0:
            continue
        known = ITEMS.get(parts[parts.index("{item}") - 1], []) if name == "item" else REAL.get(name, [])
        if known:
            params[name] = known[pick % len(known)]


def documented_status(ctx: Any, response: Any, case: Any) -> bool | None:
    """The status is listed for the operation itself, not only covered by `default`
    (schemathesis' probes with another method -- 405, or Flask's automatic OPTIONS -- aside)."""
    if case.method.upper() != case.operation.method.upper():
        return None
    listed = {str(k) for k in case.operation.definition.raw["responses"]} - {"default"}
    assert str(response.status_code) in listed, (
        f"{case.operation.label} answered {response.status_code}, documented: {sorted(listed)}")
    return None


# Status classes seen by the fuzzing (2xx / 4xx), for the closing test.
SEEN: Counter[str] = Counter()

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection, documented_status]


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_and_refusals_write_nothing(case: Any, hostile: Hostile) -> None:
    aim(case)
    who = role_for(case.method.upper(), case.operation.path)
    before = hostile.size()
    # Set on the case itself (not passed to call()), so schemathesis knows the token is
    # there and does not count a case generated without one as "invalid but accepted".
    case.headers = {**(case.headers or {}), **hostile.auth(who)}
    response = case.call(app=hostile.app)
    case.validate_response(response, checks=CHECKS)
    SEEN[f"{response.status_code // 100}xx"] += 1
    if 400 <= response.status_code < 500:
        assert hostile.size() == before, f"a refused {case.operation.label} wrote to the log"
    else:
        assert response.status_code < 300, response.status_code


def test_the_log_verifies_after_the_fuzzing(hostile: Hostile) -> None:
    """The fuzzing got writes accepted as well as refused, and whatever was accepted was
    signed and chained properly."""
    print(f"\nschemathesis: {dict(SEEN)} responses; log {hostile.start} -> {hostile.size()}")
    assert SEEN["2xx"] and SEEN["4xx"], SEEN
    assert hostile.size() > hostile.start, "the fuzzing never got a write accepted"
    assert hostile.verified()


# What the fuzzing found in the document, kept as regression tests ------------------------------


def _op(method: str, path: str) -> dict[str, Any]:
    return SPEC["paths"][f"/api/v1/{path}"][method]


def test_every_operation_with_a_body_documents_400_and_415() -> None:
    """A body that is not JSON (400) or not application/json (415) is refused, documented."""
    for path, ops in SPEC["paths"].items():
        for method, op in ops.items():
            if isinstance(op, dict) and "requestBody" in op:
                assert {"400", "415", "422"} <= set(op["responses"]), (method, path)
    assert "429" in _op("post", "tokens")["responses"]  # too many failed sign-ins


def test_an_approval_may_be_sent_without_a_body_and_a_rejection_may_not(hostile: Hostile) -> None:
    approve = f"projects/{CODE}/{{kind}}/{{item}}/approve".format
    assert _op("post", "projects/{code}/expenditures/{item}/approve")["requestBody"]["required"] is False
    assert _op("post", "projects/{code}/expenditures/{item}/reject")["requestBody"]["required"] is True
    before = hostile.size()
    response = hostile.api("POST", approve(kind="transfers", item="TR-001"), "fiscal")
    assert response.status_code in (200, 409), response.data  # 409 if the fuzzing decided it
    assert hostile.size() == before + (response.status_code == 200)


def test_the_checkpoint_documents_its_text_form(hostile: Hostile) -> None:
    content = _op("get", "ledger/checkpoint")["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/plain"}
    response = hostile.api("GET", "ledger/checkpoint", "auditor", query={"format": "text"})
    assert response.status_code == 200 and response.mimetype == "text/plain"


def test_documented_text_limits_hold_for_the_text_as_sent(hostile: Hostile) -> None:
    """maxLength 4000: 4001 characters are refused even when trimming would shorten them."""
    assert SPEC["components"]["schemas"]["Issue"]["properties"]["description"]["maxLength"] == 4000
    before = hostile.size()
    response = hostile.api("POST", f"projects/{CODE}/issues", "pm", json_body={
        "title": "t", "severity": "low", "owner": "pm", "description": " " + "x" * 4000})
    assert response.status_code == 422 and "description" in response.get_json()["errors"]
    assert hostile.size() == before


def test_amounts_are_bounded_so_totals_keep_every_cent(hostile: Hostile) -> None:
    """27 digits made Decimal's quantize raise (a 500); 10^15 and more are refused."""
    before = hostile.size()
    for amount in ("100000000000000000000000000", "1000000000000000.00", 10**30):
        response = hostile.api("POST", f"projects/{CODE}/budget-lines", "pm", json_body={
            "line": "BIG-1", "category": "hardware", "amount": amount})
        assert response.status_code == 422, response.data
        assert "amount" in response.get_json()["errors"]
    assert hostile.size() == before
