"""Forged, revoked and borrowed credentials, and CSRF: refused, nothing written.

API: a missing or garbled Authorization header, a token with a byte changed, a revoked
token, an expired token, a deactivated person's token -> 401 `unauthorised`; another person's (valid) token
acts as that person, so it cannot do what only its bearer's victim may (403). A session
cookie is no API credential (the API is exempt from CSRF because of that).

Forms: a POST without the CSRF token, with another session's token, or with a token
replayed after signing out -> refused (400), nothing written. A POST with a valid token
whose Origin (or, without one, Referer) is another site's -> refused (403), nothing written.

A token lasts 90 days unless asked for 1 to 365 (`days`); a request for more or less is 422
and issues nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.domain.helpers import CODE, PW
from tests.hostile.conftest import PASSWORD, Hostile, csrf_token, error_body
from tests.hostile.conftest import TOKEN_FIELD as TOKEN

P = f"projects/{CODE}"
INVOICE = {"line": "HW-01", "amount": "10.00", "vendor": "Acme", "invoice_number": "CR-9",
           "invoice_date": "2025-04-01", "description": "cables"}
RISK = {"title": "Leak", "probability": "2", "impact": "2", "owner": "pm", "mitigation": "m"}


def unauthorised(h: Hostile, headers: dict[str, str], method: str = "POST",
                 path: str = f"{P}/expenditures", body: Any = INVOICE) -> None:
    before = h.size()
    kwargs = {"json_body": body} if method == "POST" else {}
    response = h.api(method, path, None, headers=headers, **kwargs)
    assert error_body(response, 401)["code"] == "unauthorised"
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert h.size() == before, "a refused request wrote to the log"


def _flip(token: str, at: int) -> str:
    """The token with one character changed (still the same alphabet and length)."""
    c = token[at]
    return token[:at] + ("A" if c != "A" else "B") + token[at + 1:]


def garbled(token: str) -> list[str]:
    return [
        "", "Bearer", "Bearer ", f"Basic {token}", f"bearer{token}", f"Token {token}",
        f"Bearer {token}x", f"Bearer {token[:-1]}", f"Bearer {_flip(token, 0)}",
        f"Bearer {_flip(token, len(token) // 2)}", f"Bearer {_flip(token, len(token) - 1)}",
        f"Bearer {token.upper()}", f"Bearer {token} {token}", "Bearer \x00\x01\x02",
        "Bearer " + "A" * 10_000, "Bearer ' OR '1'='1", f"Bearer {token[::-1]}",
    ]


@pytest.mark.parametrize("index", range(17))
def test_missing_garbled_or_tampered_tokens_are_401(hostile: Hostile, index: int) -> None:
    header = garbled(hostile.tokens["pm"])[index]
    unauthorised(hostile, {"Authorization": header} if header else {})
    unauthorised(hostile, {"Authorization": header} if header else {}, "GET", P)


def test_another_persons_token_acts_as_that_person(hostile: Hostile) -> None:
    """fiscal's token cannot submit pm's expenditure (403); pm's cannot approve it."""
    before = hostile.size()
    body = error_body(hostile.api("POST", f"{P}/expenditures", "fiscal", json_body=INVOICE), 403)
    assert body["code"] == "forbidden"
    body = error_body(hostile.api("POST", f"{P}/expenditures/EXP-0001/approve", "pm",
                                  json_body={}), 403)
    assert body["code"] in ("forbidden", "segregation-of-duties")
    assert hostile.size() == before


def test_a_revoked_token_is_401(hostile: Hostile) -> None:
    app = hostile.pmo
    pmo_lead = app.actor("pmo", PW)
    token_id, token = app.issue_api_token(pmo_lead, "pmo", label="to revoke")
    assert hostile.api("GET", P, token).status_code == 200
    app.revoke_api_token(pmo_lead, token_id)
    unauthorised(hostile, {"Authorization": f"Bearer {token}"}, "GET", P)
    unauthorised(hostile, {"Authorization": f"Bearer {token}"}, "POST",
                 f"{P}/gates/G0/signoffs", {"decision": "approved", "as_role": "pmo"})


def test_an_expired_token_is_401(hostile: Hostile) -> None:
    from datetime import UTC, datetime, timedelta

    from domain.clock import simulated

    app = hostile.pmo
    pmo_lead = app.actor("pmo", PW)
    issued = datetime.now(UTC) - timedelta(days=3)
    with simulated(lambda: issued):  # issued three days ago, for one day
        token_id, token = app.issue_api_token(pmo_lead, "pmo", label="short", days=1)
    assert app.api_token_expiry(token_id) == issued + timedelta(days=1)
    unauthorised(hostile, {"Authorization": f"Bearer {token}"}, "GET", P)
    unauthorised(hostile, {"Authorization": f"Bearer {token}"}, "POST",
                 f"{P}/gates/G0/signoffs", {"decision": "approved", "as_role": "pmo"})
    fresh_id, fresh = app.issue_api_token(pmo_lead, "pmo", label="fresh", days=1)
    assert hostile.api("GET", P, fresh).status_code == 200


def _token_rows(h: Hostile) -> int:

    return h.pmo.side_store.fetch(f"SELECT COUNT(*) FROM {h.pmo.credentials.tokens_table}")[0][0]


@pytest.mark.parametrize("days", [0, -1, 366, 10**9, "30", 1.5, True])
def test_a_token_for_too_long_or_too_short_is_refused_and_none_is_issued(
        hostile: Hostile, days: Any) -> None:
    before = _token_rows(hostile)
    response = hostile.api("POST", "tokens", None, json_body={
        "username": "pmo", "password": PASSWORD, "label": "x", "days": days})
    assert error_body(response, 422)["errors"].get("days"), response.get_json()
    assert _token_rows(hostile) == before


def test_a_token_says_when_it_expires(hostile: Hostile) -> None:
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC)
    answer = hostile.api("POST", "tokens", None, json_body={
        "username": "pmo", "password": PASSWORD, "label": "week", "days": 7})
    assert answer.status_code == 201, answer.get_json()
    expires = datetime.fromisoformat(answer.get_json()["expires_at"])
    assert before + timedelta(days=7) <= expires <= datetime.now(UTC) + timedelta(days=7)
    default = hostile.api("POST", "tokens", None, json_body={"username": "pmo", "password": PASSWORD})
    expires = datetime.fromisoformat(default.get_json()["expires_at"])
    assert before + timedelta(days=90) <= expires <= datetime.now(UTC) + timedelta(days=90)


def test_a_deactivated_persons_token_is_401(hostile: Hostile) -> None:
    app = hostile.pmo
    admin = app.actor("admin", PW)
    token = hostile.tokens["pm2"]
    assert hostile.api("GET", P, "pm2").status_code == 200
    app.deactivate_person(admin, "pm2", reason="leaver (hostile tests)")
    unauthorised(hostile, {"Authorization": f"Bearer {token}"})
    unauthorised(hostile, {"Authorization": f"Bearer {token}"}, "GET", "queue")


def test_a_session_cookie_is_not_an_api_credential(hostile: Hostile) -> None:
    client = hostile.sign_in("pm")
    before = hostile.size()
    response = client.post(f"/api/v1/{P}/expenditures", json=INVOICE)
    assert error_body(response, 401)["code"] == "unauthorised"
    assert hostile.size() == before


# CSRF ------------------------------------------------------------------------------------------

FORM = f"/projects/{CODE}/act/risk"


def _refused_form(h: Hostile, client: Any, data: dict[str, str]) -> None:
    before = h.size()
    response = client.post(FORM, data=data)
    assert response.status_code in (400, 403), response.status_code
    assert h.size() == before, "a form refused for its CSRF token wrote to the log"
    html = response.get_data(as_text=True)
    assert "nothing was recorded" in html.lower()


def test_a_form_without_its_csrf_token_is_refused(hostile: Hostile) -> None:
    _refused_form(hostile, hostile.sign_in("pm"), RISK)
    _refused_form(hostile, hostile.sign_in("pm"), {**RISK, "csrf_token": ""})
    _refused_form(hostile, hostile.sign_in("pm"), {**RISK, "csrf_token": "forged.token.value"})


def test_another_sessions_csrf_token_is_refused(hostile: Hostile) -> None:
    theirs = csrf_token(hostile.sign_in("pm"), FORM)
    mine = hostile.sign_in("pm")
    _refused_form(hostile, mine, {**RISK, "csrf_token": theirs})
    # A token from a signed-out visitor's session (the sign-in page) is no better.
    anonymous = csrf_token(hostile.app.test_client(), "/signin")
    _refused_form(hostile, mine, {**RISK, "csrf_token": anonymous})


def test_a_csrf_token_replayed_after_signing_out_is_refused(hostile: Hostile) -> None:
    client = hostile.sign_in("pm")
    token = csrf_token(client, FORM)
    signed_out = client.post("/signout", data={"csrf_token": token})
    assert signed_out.status_code == 302
    # Signed out: the old token is worthless, and signing in again gives a new session.
    again = hostile.sign_in("pm")
    _refused_form(hostile, again, {**RISK, "csrf_token": token})
    before = hostile.size()
    response = again.post(FORM, data={**RISK, "csrf_token": csrf_token(again, FORM)})
    assert response.status_code == 302 and hostile.size() == before + 1


def test_the_sign_in_form_itself_needs_its_token(hostile: Hostile) -> None:
    client = hostile.app.test_client()
    response = client.post("/signin", data={"username": "pm", "password": "x"})
    assert response.status_code in (400, 403)
    assert client.get(FORM).status_code == 302  # still signed out


# Origin (issue 17 item 17) ----------------------------------------------------------------

CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},  # a sandboxed frame, a data: URL
    {"Origin": "http://localhost.evil.example"},
    {"Origin": "https://localhost"},  # another scheme is another origin
    {"Origin": "http://localhost:8080"},
    {"Referer": "https://evil.example/form.html"},  # no Origin: the Referer decides
    {"Referer": "http://localhost.evil.example/"},
]


@pytest.mark.parametrize("headers", CROSS_SITE, ids=lambda h: " ".join(h.values()))
def test_a_form_posted_from_another_origin_is_refused_even_with_a_valid_token(
        hostile: Hostile, headers: dict[str, str]) -> None:
    client = hostile.sign_in("pm")
    before = hostile.size()
    response = client.post(FORM, headers=headers,
                           data={**RISK, "csrf_token": csrf_token(client, FORM)})
    assert response.status_code == 403, response.status_code
    assert "nothing was recorded" in response.get_data(as_text=True)
    assert hostile.size() == before
    # Nor can another site sign a person in or out.
    signed_out = client.post("/signout", headers=headers,
                             data={"csrf_token": csrf_token(client, FORM)})
    assert signed_out.status_code == 403 and client.get(FORM).status_code == 200
    anonymous = hostile.app.test_client()
    signed_in = anonymous.post("/signin", headers=headers, data={
        "username": "pm", "password": PASSWORD, "csrf_token": csrf_token(anonymous, "/signin")})
    assert signed_in.status_code == 403 and anonymous.get(FORM).status_code == 302


@pytest.mark.parametrize("headers", [
    {"Origin": "http://localhost"}, {"Origin": "HTTP://LOCALHOST:80"},
    {"Referer": f"http://localhost/{P}"}, {},  # neither: a client that is no browser
], ids=["origin", "origin-default-port", "referer", "neither"])
def test_a_form_posted_from_this_origin_is_accepted(hostile: Hostile, headers: dict[str, str]) -> None:
    client = hostile.sign_in("pm")
    before = hostile.size()
    response = client.post(FORM, headers=headers,
                           data={**RISK, "csrf_token": csrf_token(client, FORM)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert hostile.size() == before + 1


def test_over_https_this_origin_is_https(hostile: Hostile) -> None:
    """Over HTTPS (directly, or as gunicorn reports it for a loopback proxy sending
    X-Forwarded-Proto: https) the origin is https://<the request's host>."""
    site = "https://pmo.example.org"
    for origin, status in ((site, 302), ("http://pmo.example.org", 403)):
        client = hostile.app.test_client()
        response = client.get("/signin", base_url=site)
        token = TOKEN.search(response.get_data(as_text=True))[1]  # type: ignore[index]
        response = client.post("/signin", base_url=site,
                               headers={"Origin": origin, "Referer": f"{site}/signin"},
                               data={"username": "pm", "password": PASSWORD, "csrf_token": token})
        assert response.status_code == status, (origin, response.status_code)


def test_an_api_request_from_another_origin_is_no_form_post(hostile: Hostile) -> None:
    before = hostile.size()
    response = hostile.api("POST", f"{P}/risks", "pm", json_body=RISK,
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 201, response.get_json()
    assert hostile.size() == before + 1


def test_the_log_verifies(hostile: Hostile) -> None:
    assert hostile.verified()
