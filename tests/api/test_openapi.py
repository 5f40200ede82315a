"""The OpenAPI document: valid, and listing every API route the app serves."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from tests.api.conftest import ApiClient


def test_the_openapi_document_validates_and_lists_every_route(api: ApiClient) -> None:
    r = api.client.get("/api/v1/openapi.json")  # public: no token needed
    assert r.status_code == 200
    spec = r.get_json()
    validate(spec)
    documented = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops
                  if m in ("get", "post", "put", "patch", "delete")}
    served = set()
    for rule in api.app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        served |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
    for required in ("/api/v1/tokens", "/api/v1/projects", "/api/v1/projects/{code}",
                     "/api/v1/projects/{code}/expenditures/{item}/approve",
                     "/api/v1/projects/{code}/gates/{gate}/signoffs",
                     "/api/v1/projects/{code}/variance", "/api/v1/ledger/events"):
        assert required in spec["paths"]


def test_the_document_is_generated_from_the_shared_schemas(api: ApiClient) -> None:
    spec = api.client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    expenditure = schemas["Expenditure"]
    assert set(expenditure["required"]) == {"line", "amount", "vendor", "invoice_number",
                                            "invoice_date", "description"}
    assert expenditure["properties"]["amount"]["type"] == "string"
    assert expenditure["properties"]["invoice_date"]["format"] == "date"
    assert set(schemas["Error"]["required"]) == {"code", "message", "errors"}
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/tokens"]["post"]["security"] == []
