"""schemathesis against /api/v1/openapi.json: every operation, every check, driven in-process.

Each operation is tested with schemathesis' examples, coverage and fuzzing phases (100
fuzzed cases each, derandomised: the same cases on every run) and every response is judged
by all of schemathesis' checks (`ALL_CHECKS`: server errors, status codes, content types,
response headers and bodies, invalid input refused and valid input accepted, a missing
Authorization header refused, undeclared methods answered 405 with Allow, credentials
enforced -- each 2xx is sent again without a token and with a wrong one --, ...) and two of
this suite's own: the status is one the operation lists itself, and a refused request
leaves the log as it was.

Requests carry the bearer token of a person whose role may call the operation (schemathesis'
auth provider, so its own cases without credentials stay without), so the generated bodies
reach the schemas and the domain, not only the 401/403 gate. Path parameters point at the
module ledger's real project and items most of the time (random otherwise, for the 404s).
The module shares one ledger, so accepted submissions pile up and later decisions meet
them: a light, deterministic form of stateful testing (the document has no links for
schemathesis' state machine to follow). use_after_free and ensure_resource_availability
judge such sequences (a DELETE, then the resource still there...): they run on every case
but see no recorded history here, and the API's only DELETE (a token) has nothing that
reads the token back.

One check is narrowed, not dropped: positive_data_acceptance (input valid by the document
is not refused) tolerates a 422 whose every error is a rule OpenAPI 3.0 cannot state or one
that depends on the ledger's state -- `BEYOND_THE_DOCUMENT` lists each with its reason.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import Failure
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.domain.helpers import CODE
from tests.hostile.conftest import Hostile
from web.app import create_app

pytestmark = pytest.mark.slow  # started first: see tests/conftest.py

# Per operation: examples + coverage cases + this many fuzzed ones; bounded so the hostile
# suite stays within minutes on two shared cores.
EXAMPLES = 100


class Forward:
    """A WSGI app passing every request on to `app`: schemathesis is given it when this
    module is imported, and the module's fixture points it at the module ledger's app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


# Until the fixture runs: an app that never opens its ledger (the document needs none).
APP = Forward(create_app({"LEDGER_DB": "sqlite:////nonexistent/never-opened.db",
                          "SECRET_KEY": "spec", "TESTING": True}))
SPEC: dict[str, Any] = APP.app.test_client().get("/api/v1/openapi.json").get_json()
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP)
schema.config.generation.update(max_examples=EXAMPLES)
TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def _served_by_the_module_ledger(hostile: Hostile) -> Iterator[None]:
    spec_only = APP.app
    TOKENS.update(hostile.tokens)
    APP.app = hostile.app
    try:
        yield
    finally:
        APP.app = spec_only
        TOKENS.clear()


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


ROLE = "Bearer role:"  # the provider's placeholder: the tokens are issued once cases exist


@schema.auth(cache_by_key=lambda case, ctx: str(role_for(case.method.upper(), ctx.operation.path)))
class Bearer:
    """The token of `role_for` the operation (schemathesis leaves it off the cases that
    test a missing Authorization header)."""

    def get(self, case: Any, ctx: Any) -> str | None:
        return role_for(case.method.upper(), ctx.operation.path)

    def set(self, case: Any, role: str | None, ctx: Any) -> None:
        if role is not None:
            case.headers = {**(case.headers or {}), "Authorization": ROLE + role}


IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
_SERIAL = iter(range(10**9))


def aim(case: Any) -> None:
    """The role's real token; path parameters pointed at real things three times in four
    (chosen from the generated value itself, so as deterministic as the generation); a
    well-formed Idempotency-Key made unique to the case (a key spent by an earlier case
    with another body is refused, rightly: the run would test that instead of the body)."""
    headers = case.headers or {}
    if headers.get("Authorization", "").startswith(ROLE):
        headers["Authorization"] = "Bearer " + TOKENS[headers["Authorization"][len(ROLE):]]
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and IDEMPOTENCY_KEY.fullmatch(key):
        seen = repr((case.method, case.operation.path, case.path_parameters, case.body, key))
        headers["Idempotency-Key"] = f"st-{zlib.crc32(seen.encode()):08x}-{next(_SERIAL)}"
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


# 422s that valid input may meet: (operation path, or "" for any; field; message), each
# with why the document does not rule the input out. Cross-field rules need `if`/`then` or
# comparisons JSON Schema for OpenAPI 3.0 does not have; the others depend on what the
# ledger holds when the request arrives.
BEYOND_THE_DOCUMENT: list[tuple[str, str, str, str]] = [
    ("/api/v1/projects", "target_finish_date", r"is before start_date",
     "a date after another field's: JSON Schema compares no two values"),
    ("/milestones", "planned_finish", r"is before planned_start", "the same"),
    ("/status-reports", "period_end", r"is before period_start", "the same"),
    ("/transfers", "to_line", r"must differ from from_line", "two fields that must differ: the same"),
    ("/change-requests", "_schema", r"needs a cost, schedule or scope impact",
     "at least one of three fields non-empty: needs anyOf over required fields and lengths"),
    ("/signoffs", "conditions", r"an approval with conditions states them",
     "a field required by another field's value: needs if/then (OpenAPI 3.1)"),
    ("/signoffs", "reason", r"a rejection needs a reason", "the same"),
    ("/api/v1/projects/{code}", "position", r"give as_of or position, not both",
     "query parameters cannot exclude each other in OpenAPI"),
    ("/api/v1/projects/{code}", "position", r"is not in the log",
     "a position beyond the log's size: the size grows with every write"),
    ("/api/v1/projects/{code}", "as_of", r"the log holds nothing recorded by",
     "an instant before the ledger's first event"),
    ("/amendments", "_schema", r"the amendment changes nothing",
     "values equal to the charter's own (or only empty optional fields, which forms send "
     "for 'unchanged'): depends on the charter"),
    ("/updates", "_schema", r"the update changes nothing",
     "a reassessment to the values the risk already has: depends on the risk"),
    ("/amendments", "target_finish", r"is before start_date",
     "one date of the amendment against the other the charter already has"),
    ("/change-requests", "cost_impacts", r"may appear only once",
     "list items distinct by one of their fields: uniqueItems compares whole items"),
    ("/change-requests", "schedule_impacts", r"may appear only once", "the same"),
    ("/change-requests", "deliverables", r"may appear only once", "the same"),
    ("/conditions-met", "conditions", r"may appear only once",
     "texts distinct once trimmed: uniqueItems compares them as sent"),
    ("/change-requests", "milestone", r"the milestone change changes nothing",
     "a schedule impact naming only its milestone, or the dates and value it already has"),
    ("/change-requests", "planned_finish", r"is before planned_start",
     "one date of a schedule impact against the other the milestone already has"),
    ("/change-requests", "name", r"is required",
     "a cost impact on a line the project does not have yet opens it and must name it"),
    ("/change-requests", "category", r"must be one of",
     "the same: a new line's category"),
]


def _beyond_the_document(case: Any, response: Any) -> bool:
    """Every error of this 422 is one of BEYOND_THE_DOCUMENT for this operation."""
    if response.status_code != 422:
        return False
    body = response.json()
    errors = body.get("errors") or {"_schema": [body.get("message")]}  # a refusal naming no field
    path = case.operation.path

    def explained(field: str, messages: Any) -> bool:
        return any((path == where if where.startswith("/api/") else where in path)
                   and field == name and re.search(rule, str(messages))
                   for where, name, rule, _ in BEYOND_THE_DOCUMENT)

    return all(explained(field, messages) for field, messages in errors.items())


def positive_data_acceptance_within_the_document(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis' positive_data_acceptance, but for BEYOND_THE_DOCUMENT's refusals."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except Failure:
        if _beyond_the_document(case, response):
            BEYOND[case.operation.label] += 1
            return None
        raise


load_all_checks()
ALL_CHECKS = [check for check in CHECKS.get_all() if check is not positive_data_acceptance]
CHECKS_RUN = [*ALL_CHECKS, positive_data_acceptance_within_the_document, documented_status]

# Status classes seen by the fuzzing (2xx / 4xx), and the narrowed check's pardons.
SEEN: Counter[str] = Counter()
BEYOND: Counter[str] = Counter()


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_and_refusals_write_nothing(case: Any, hostile: Hostile) -> None:
    aim(case)
    before = hostile.size()
    response = case.call()
    case.validate_response(response, checks=CHECKS_RUN)
    SEEN[f"{response.status_code // 100}xx"] += 1
    if 400 <= response.status_code < 500:
        assert hostile.size() == before, f"a refused {case.operation.label} wrote to the log"
    else:
        assert response.status_code < 300, response.status_code


def test_the_log_verifies_after_the_fuzzing(hostile: Hostile) -> None:
    """The fuzzing got writes accepted as well as refused, and whatever was accepted was
    signed and chained properly."""
    print(f"\nschemathesis: {dict(SEEN)} responses; log {hostile.start} -> {hostile.size()}; "
          f"422s beyond the document: {sum(BEYOND.values())} ({len(BEYOND)} operations)")
    assert SEEN["2xx"] and SEEN["4xx"], SEEN
    assert hostile.size() > hostile.start, "the fuzzing never got a write accepted"
    assert hostile.verified()


def test_every_check_schemathesis_has_is_run() -> None:
    names = {getattr(check, "__name__", type(check).__name__) for check in CHECKS_RUN}
    assert set(CHECKS.get_all_names()) - {"positive_data_acceptance"} <= names, names
    assert len(CHECKS.get_all_names()) >= 14


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


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """A `$ref` to the document's components, followed."""
    while "$ref" in node:
        _, *where = node["$ref"].split("/")
        node = SPEC
        for part in where:
            node = node[part]
    return node


def _field(schema_name: str, field: str) -> dict[str, Any]:
    return SPEC["components"]["schemas"][schema_name]["properties"][field]


@pytest.mark.parametrize(("schema_name", "field", "valid", "invalid"), [
    # A required text needs a visible character; no text takes controls or bidi overrides.
    ("Issue", "title", ["x", " x ", "naïve café", "line\nbreak"],
     ["", " ", "\u200b", "\u00a0\u200b", "x\x00", "x\u202e"]),
    ("Issue", "description", ["x"], ["x\x1b[31m"]),
    ("Deliverable", "description", ["", " ", "\u200b", "x"], ["\x07"]),
    # Business dates: real days from 1990-01-01 to 2100-12-31.
    ("Expenditure", "invoice_date", ["1990-01-01", "2000-02-29", "2096-02-29", "2100-12-31"],
     ["1989-12-31", "2101-01-01", "2026-02-30", "2026-04-31", "2100-02-29", "20260101"]),
    # Money: below 10^15, grouped by threes or not, two places at most; positive > 0.
    ("Expenditure", "amount", ["1", "0.01", "1,234.56", "999999999999999.99"],
     ["0", "0.00", "-1.00", "1000000000000000", "1,00", "1.001", "1e3"]),
    ("CostImpact", "amount", ["-0.01", "500"], ["0", "-0.00"]),
    ("BudgetLine", "amount", ["0", "0.00", "12"], ["-1"]),
])
def test_documented_patterns_say_what_the_app_takes(schema_name: str, field: str,
                                                    valid: list[str], invalid: list[str]) -> None:
    """What the fuzzing found: patterns that let through values the app refuses (an empty
    title, a zero amount, 2026-02-30...), so valid-by-the-document input met 422s."""
    pattern = re.compile(_field(schema_name, field)["pattern"])
    assert [v for v in valid if not pattern.search(v)] == []
    assert [v for v in invalid if pattern.search(v)] == []


def test_the_app_refuses_what_the_patterns_refuse(hostile: Hostile) -> None:
    before = hostile.size()
    for body, field in [
        ({"title": "\u200b", "severity": "low", "owner": "pm", "description": "d"}, "title"),
        ({"title": "t", "severity": "low", "owner": "pm\u202e", "description": "d"}, "owner"),
    ]:
        response = hostile.api("POST", f"projects/{CODE}/issues", "pm", json_body=body)
        assert response.status_code == 422 and field in response.get_json()["errors"], response.data
    response = hostile.api("POST", f"projects/{CODE}/change-requests", "pm", json_body={
        "title": "t", "description": "d", "justification": "j",
        "cost_impacts": [{"line": "HW-01", "amount": "0.00"}]})
    assert response.status_code == 422 and "cost_impacts" in response.get_json()["errors"]
    assert hostile.size() == before


def test_query_and_path_parameters_are_documented_as_the_app_reads_them(hostile: Hostile) -> None:
    """as_of: a date or an ISO date-time (Python would also read 20250301 or 2025-W09-6);
    position: from 1; gate: one of the policy's."""
    params = {p["name"]: p["schema"] for p in map(_resolve, _op("get", "projects/{code}")["parameters"])}
    as_of = re.compile(params["as_of"]["pattern"])
    assert params["position"]["minimum"] == 1
    for ok in ("2025-03-01", "2025-03-01T12:00", "2999-01-01T00:00:00Z", "2025-03-01T12:00:00.5+05:30"):
        assert as_of.search(ok), ok
        response = hostile.api("GET", f"projects/{CODE}", "auditor", query={"as_of": ok})
        assert response.status_code == 200 or "nothing recorded" in response.get_json()["message"]
    for bad in ("20250301", "2025-W09-6", "2025-02-30", "yesterday", ""):
        assert not as_of.search(bad), bad
        response = hostile.api("GET", f"projects/{CODE}", "auditor", query={"as_of": bad})
        assert response.status_code == 422 and "as_of" in response.get_json()["errors"], bad
    path_parameters = SPEC["paths"]["/api/v1/projects/{code}/gates/{gate}/signoffs"]["parameters"]
    gate = next(p for p in map(_resolve, path_parameters) if p["name"] == "gate")
    assert gate["schema"]["enum"] == ["G0", "G1", "G2", "G3", "G4"]


def test_every_write_may_be_refused_for_its_input_or_its_credentials() -> None:
    """Authentication comes first (401 documented wherever a token is needed), and every
    operation's errors are in the one error shape."""
    for path, ops in SPEC["paths"].items():
        for method, op in ops.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            if op.get("security") != []:
                assert "401" in op["responses"], (method, path)
            for status, answer in op["responses"].items():
                if status.startswith(("4", "5")):
                    schema_ref = _resolve(answer)["content"]["application/json"]["schema"]["$ref"]
                    assert schema_ref.endswith("/Error"), (method, path, status)


@pytest.mark.parametrize(("path", "who", "body", "field"), [
    (f"projects/{CODE}/change-requests", "pm",
     {"title": "t", "description": "d", "justification": "j",
      "schedule_impacts": [{"milestone": "M-01", "budgeted_value": ""}]}, "schedule_impacts"),
    (f"projects/{CODE}/amendments", "pm", {"title": "", "reason": "r"}, "title"),
    (f"projects/{CODE}/amendments", "pm", {"title": " ", "fund": "F", "reason": "r"}, "title"),
    (f"projects/{CODE}/risks/R-001/updates", "pm", {"owner": "", "reason": "r"}, "owner"),
    (f"projects/{CODE}/expenditures", "pm",
     {"line": "HW-01", "amount": "5.00", "vendor": "V", "invoice_number": "E-1",
      "invoice_date": "2025-04-01", "description": "d", "po_number": ""}, "po_number"),
])
def test_an_empty_string_in_json_is_a_value_its_field_judges(hostile: Hostile, path: str, who: str,
                                                             body: dict[str, Any], field: str) -> None:
    """What the fuzzing found: "" was dropped as "not given" (as an HTML form's empty field
    is), so a budgeted_value "" the document refuses went through; the forms' reader leaves
    empty fields out instead, and JSON's "" meets its field."""
    before = hostile.size()
    response = hostile.api("POST", path, who, json_body=body)
    assert response.status_code == 422, response.data
    assert field in response.get_json()["errors"], response.get_json()
    assert hostile.size() == before


def test_an_invoice_number_is_documented_as_long_as_the_aggregate_takes(hostile: Hostile) -> None:
    """What the fuzzing found: maxLength 80 while the aggregate takes 60 characters."""
    assert _field("Expenditure", "invoice_number")["maxLength"] == 60
    before = hostile.size()
    response = hostile.api("POST", f"projects/{CODE}/expenditures", "pm", json_body={
        "line": "HW-01", "amount": "5.00", "vendor": "V", "invoice_number": "N" * 61,
        "invoice_date": "2025-04-01", "description": "d"})
    assert response.status_code == 422 and "invoice_number" in response.get_json()["errors"]
    assert hostile.size() == before


@pytest.mark.parametrize(("path", "body", "field"), [
    (f"projects/{CODE}/change-requests",
     {"title": "t", "description": "d", "justification": "j",
      "schedule_impacts": [{"milestone": "M-01", "budgeted_value": 0}]}, "schedule_impacts"),
    (f"projects/{CODE}/budget-lines", {"line": "NUM-1", "category": "hardware", "amount": 500},
     "amount"),
    ("projects", {"code": "IT-2026-078", "title": "T", "sponsor": "s", "project_manager": "pm",
                  "start_date": "2026-01-01", "target_finish_date": "2026-12-31", "fund": "F",
                  "capital": "yes", "objectives": ["o"], "scope_statement": "s"}, "capital"),
    (f"projects/{CODE}/amendments", {"capital": 1, "reason": "r"}, "capital"),
])
def test_json_values_have_the_documented_type(hostile: Hostile, path: str, body: dict[str, Any],
                                              field: str) -> None:
    """What the fuzzing found: an amount as a JSON number (0) and a boolean as "yes" or 1
    were taken although the document says string and boolean (a form's select is turned
    into true/false by its reader)."""
    before = hostile.size()
    response = hostile.api("POST", path, "pm", json_body=body)
    assert response.status_code == 422, response.data
    assert field in response.get_json()["errors"], response.get_json()
    assert hostile.size() == before
