"""Issue 17 item 14: API tokens are revocable -- `DELETE /api/v1/tokens/{token_id}` (one's
own; an administrator anyone's), a page listing one's own tokens with a Revoke button, and
`pmo-ledger tokens list` / `tokens revoke`. Revocation is immediate: the next request with
the token is 401. Tokens live in a side table: revoking writes nothing to the log."""

from __future__ import annotations

import re
from typing import Any

from click.testing import CliRunner

from tests.api.conftest import PASSWORD, ApiClient, refused
from web.cli import cli

TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def fresh(api: ApiClient, username: str, label: str = "laptop") -> tuple[str, str]:
    """A new token of `username`: (token id, token)."""
    r = api.post("tokens", None, {"username": username, "password": PASSWORD, "label": label})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    return body["token_id"], body["token"]


def works(api: ApiClient, token: str) -> int:
    return api.get("projects", token).status_code


def test_a_person_revokes_their_own_token_and_it_stops_at_once(api: ApiClient) -> None:
    token_id, token = fresh(api, "pm")
    other_id, other = fresh(api, "pm", "desktop")
    assert works(api, token) == 200
    before = api.size()
    r = api.call("DELETE", f"tokens/{token_id}", token)  # with the very token revoked
    assert r.status_code == 204 and r.data == b"", r.data
    assert api.size() == before, "revoking a token wrote to the log"
    refused(api, api.get("projects", token), 401, "unauthorised", before)
    assert works(api, other) == 200  # only that one
    r = api.call("DELETE", f"tokens/{other_id}", "pm")  # the template's token of pm
    assert r.status_code == 204
    assert works(api, other) == 401
    assert works(api, "pm") == 200


def test_revoking_again_is_harmless(api: ApiClient) -> None:
    token_id, token = fresh(api, "fiscal")
    assert api.call("DELETE", f"tokens/{token_id}", "fiscal").status_code == 204
    assert api.call("DELETE", f"tokens/{token_id}", "fiscal").status_code == 204
    assert works(api, token) == 401


def test_only_an_administrator_revokes_someone_elses_token(api: ApiClient) -> None:
    token_id, token = fresh(api, "pm")
    before = api.size()
    for who in ("pm2", "fiscal", "auditor", "pmo"):
        refused(api, api.call("DELETE", f"tokens/{token_id}", who), 403, "forbidden", before)
    assert works(api, token) == 200
    assert api.call("DELETE", f"tokens/{token_id}", "admin").status_code == 204
    assert works(api, token) == 401
    assert api.size() == before


def test_an_unknown_token_is_404_and_no_credentials_401(api: ApiClient) -> None:
    token_id, token = fresh(api, "pm")
    before = api.size()
    refused(api, api.call("DELETE", "tokens/0123456789abcdef", "pm"), 404, "not-found", before)
    refused(api, api.call("DELETE", f"tokens/{token_id}", None), 401, "unauthorised", before)
    refused(api, api.call("DELETE", f"tokens/{token_id}", "not-a-token"), 401, "unauthorised",
            before)
    assert works(api, token) == 200


def test_the_operation_is_documented(api: ApiClient) -> None:
    spec = api.client.get("/api/v1/openapi.json").get_json()
    op = spec["paths"]["/api/v1/tokens/{token_id}"]["delete"]
    assert {"204", "401", "403", "404"} <= set(op["responses"]), op["responses"]
    assert op.get("security") != [], "revoking needs a bearer token"
    for status in ("401", "403", "404"):
        content = op["responses"][status]["content"]["application/json"]["schema"]
        assert content == {"$ref": "#/components/schemas/Error"}


# The page ------------------------------------------------------------------------------------


def signed_in(api: ApiClient, username: str) -> Any:
    client = api.app.test_client()
    token = TOKEN_FIELD.search(client.get("/signin").get_data(as_text=True)).group(1)
    r = client.post("/signin", data={"username": username, "password": PASSWORD,
                                     "csrf_token": token})
    assert r.status_code == 302, r.data[:300]
    return client


def test_the_page_lists_ones_own_tokens_and_revokes_with_a_csrf_form(api: ApiClient) -> None:
    mine, token = fresh(api, "pm", "build server")
    theirs, _ = fresh(api, "fiscal", "fiscal laptop")
    client = signed_in(api, "pm")
    page = client.get("/account/tokens")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert mine in html and "build server" in html
    assert theirs not in html and "fiscal laptop" not in html
    form = re.search(rf'<form[^>]*action="/account/tokens/{mine}/revoke".*?</form>', html, re.S)
    assert form and TOKEN_FIELD.search(form.group(0)), "a Revoke form with its CSRF token"
    before = api.size()
    no_csrf = client.post(f"/account/tokens/{mine}/revoke")
    assert no_csrf.status_code == 400 and works(api, token) == 200
    csrf = TOKEN_FIELD.search(form.group(0)).group(1)
    done = client.post(f"/account/tokens/{mine}/revoke", data={"csrf_token": csrf})
    assert done.status_code == 302 and done.location.endswith("/account/tokens")
    assert works(api, token) == 401
    assert api.size() == before
    html = client.get("/account/tokens").get_data(as_text=True)
    assert "revoked" in html and f"/account/tokens/{mine}/revoke" not in html
    # Someone else's token, through the same form: refused, still working.
    refused_page = client.post(f"/account/tokens/{theirs}/revoke", data={"csrf_token": csrf})
    assert refused_page.status_code == 403
    assert client.post("/account/tokens/0123456789abcdef/revoke",
                       data={"csrf_token": csrf}).status_code == 404


def test_the_page_needs_a_signed_in_person(api: ApiClient) -> None:
    r = api.app.test_client().get("/account/tokens")
    assert r.status_code == 302 and "/signin" in r.location


# The command line ----------------------------------------------------------------------------


def run(api: ApiClient, *args: str) -> Any:
    return CliRunner().invoke(cli, [*args, "--db", api.app.config["LEDGER_DB"]])


def test_the_command_line_lists_and_revokes(api: ApiClient) -> None:
    token_id, token = fresh(api, "sponsor", "ci")
    listed = run(api, "tokens", "list", "--user", "sponsor")
    assert listed.exit_code == 0, listed.output
    line = next(row for row in listed.output.splitlines() if token_id in row)
    assert "sponsor" in line and "ci" in line and "active" in line
    assert all("sponsor" in row for row in listed.output.splitlines()[1:] if row.strip())
    everyone = run(api, "tokens", "list")
    assert everyone.exit_code == 0 and "fiscal" in everyone.output and token_id in everyone.output
    before = api.size()
    revoked = run(api, "tokens", "revoke", token_id)
    assert revoked.exit_code == 0, revoked.output
    assert token_id in revoked.output and "sponsor" in revoked.output
    assert works(api, token) == 401
    assert api.size() == before
    again = run(api, "tokens", "list", "--user", "sponsor")
    assert "revoked" in next(row for row in again.output.splitlines() if token_id in row)
    unknown = run(api, "tokens", "revoke", "0123456789abcdef")
    assert unknown.exit_code == 1 and "no API token" in unknown.stderr
