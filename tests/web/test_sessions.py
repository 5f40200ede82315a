"""Server-side sessions (issue 17 item 4): a signed cookie alone is no longer a session.

Signing out ends every session of that person, on every device and in every worker; so do a
password change (wherever it is made), a deactivation and a role revocation. A copied cookie
and CSRF token are worthless afterwards. Sessions also end when idle too long and after an
absolute lifetime (web/sessions.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.hostile.conftest import csrf_token
from tests.web.conftest import CODE, Site, make_app
from web.ledger_access import close_ledger

FORM = f"/projects/{CODE}/act/risk"
RISK = {"title": "Leak", "probability": "2", "impact": "2", "owner": "pm", "mitigation": "m"}


@pytest.fixture
def guarded(site: Site, tmp_path: Path) -> Iterator[Site]:
    """The site's ledger under an app with CSRF protection on, as in production."""
    app = make_app(site.app.config["LEDGER_DB"], tmp_path, WTF_CSRF_ENABLED=True)
    try:
        yield Site(app, app.test_client())
    finally:
        close_ledger(app)


def sign_in(site: Site, username: str, client: FlaskClient | None = None) -> FlaskClient:
    client = client or site.app.test_client()
    response = client.post("/signin", data={"username": username, "password": "demo",
                                            "csrf_token": csrf_token(client, "/signin")})
    assert response.status_code == 302, response.data[:300]
    return client


def sign_out(client: FlaskClient) -> None:
    response = client.post("/signout", data={"csrf_token": csrf_token(client, FORM)})
    assert response.status_code == 302 and "/signin" in response.headers["Location"]


def signed_in(client: FlaskClient) -> bool:
    response = client.get("/")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def to_sign_in(response) -> bool:  # noqa: ANN001
    return response.status_code == 302 and "/signin" in response.headers["Location"]


def test_a_copied_cookie_and_csrf_token_post_nothing_after_signing_out(guarded: Site) -> None:
    pm = sign_in(guarded, "pm")
    token = csrf_token(pm, FORM)
    cookie = pm.get_cookie("session")
    assert cookie is not None
    sign_out(pm)

    thief = guarded.app.test_client()
    thief.set_cookie("session", cookie.value)
    before = guarded.size()
    response = thief.post(FORM, data={**RISK, "csrf_token": token})
    assert to_sign_in(response), (response.status_code, response.headers.get("Location"))
    assert guarded.size() == before, "an event was written in the signed-out PM's name"
    assert not signed_in(thief)


def test_signing_out_ends_every_session_of_that_person_in_every_worker(
        guarded: Site, tmp_path: Path) -> None:
    other_worker = make_app(guarded.app.config["LEDGER_DB"], tmp_path, WTF_CSRF_ENABLED=True)
    try:
        laptop = sign_in(guarded, "pm")
        phone = sign_in(guarded, "pm")
        phone_cookie = phone.get_cookie("session").value  # type: ignore[union-attr]
        fiscal = sign_in(guarded, "fiscal")
        on_other_worker = other_worker.test_client()
        on_other_worker.set_cookie("session", phone_cookie)
        assert signed_in(laptop) and signed_in(phone) and signed_in(on_other_worker)

        sign_out(laptop)
        assert not signed_in(laptop) and not signed_in(phone) and not signed_in(on_other_worker)
        assert signed_in(fiscal), "another person's session is untouched"
        assert signed_in(sign_in(guarded, "pm")), "signing in again starts a new session"
    finally:
        close_ledger(other_worker)


def test_revoking_a_role_and_deactivating_end_the_persons_sessions(site: Site) -> None:
    admin = site.as_user("admin")
    pm2, pm2_again, fiscal2 = site.as_user("pm2"), site.as_user("pm2"), site.as_user("fiscal2")
    assert signed_in(pm2) and signed_in(pm2_again) and signed_in(fiscal2)

    r = admin.post("/admin/people/pm2/revoke", data={"role": "pm", "reason": "moved team"})
    assert r.status_code == 302 and "/admin/people" in r.headers["Location"]
    assert to_sign_in(pm2.get("/")) and to_sign_in(pm2_again.get("/")), "signed out, not just 403"
    assert signed_in(fiscal2)

    r = admin.post("/admin/people/fiscal2/deactivate", data={"reason": "left the city"})
    assert r.status_code == 302
    assert to_sign_in(fiscal2.get("/"))
    from web.sessions import sessions

    with site.app.app_context():
        assert sessions().count("fiscal2") == 0 and sessions().count("pm2") == 0
        assert sessions().count("admin") == 1, "the administrator's own session goes on"


def test_a_password_change_made_anywhere_ends_every_session(site: Site) -> None:
    pm, pm_elsewhere, fiscal = site.as_user("pm"), site.as_user("pm"), site.as_user("fiscal")
    assert signed_in(pm) and signed_in(pm_elsewhere)
    site.pmo.set_password("pm", "a-new-password")  # as the CLI or another process would
    assert to_sign_in(pm.get("/")) and to_sign_in(pm_elsewhere.get("/"))
    assert signed_in(fiscal)
    new = site.app.test_client()
    assert new.post("/signin", data={"username": "pm", "password": "a-new-password"}).status_code == 302
    assert signed_in(new)


def test_sessions_end_when_idle_too_long_and_after_their_absolute_lifetime(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from web import sessions

    idle, absolute = sessions.IDLE_SECONDS, sessions.ABSOLUTE_SECONDS
    assert (idle, absolute) == (2 * 3600, 12 * 3600), "the README states these"
    now = [1_000_000.0]
    monkeypatch.setattr(sessions, "_now", lambda: now[0])

    dozing = site.as_user("pm")
    busy = site.as_user("fiscal")
    now[0] += idle - 60
    assert signed_in(dozing) and signed_in(busy)
    now[0] += idle - 60  # dozing was active idle - 60 s ago: still fine
    assert signed_in(dozing)
    now[0] += idle + 1
    assert not signed_in(dozing), "idle for longer than the idle timeout"

    busy = site.as_user("fiscal")
    started = now[0]
    while now[0] < started + absolute - idle / 2:
        now[0] += idle / 2
        assert signed_in(busy)
    now[0] = started + absolute + 1
    assert not signed_in(busy), "past the absolute lifetime however busy"


def test_signing_in_again_on_the_same_browser_replaces_its_session(site: Site) -> None:
    client = site.as_user("pm")
    old = client.get_cookie("session").value  # type: ignore[union-attr]
    again = client.post("/signin", data={"username": "fiscal", "password": "demo"})
    assert again.status_code == 302  # signed in as another person without signing out
    replay = site.app.test_client()
    replay.set_cookie("session", old)
    assert not signed_in(replay)
    assert signed_in(client)


def test_sessions_and_the_sign_in_throttle_on_each_backend(
        backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The side tables' SQL on SQLite and PostgreSQL alike (schema-qualified there)."""
    from domain.services import PMOApplication
    from ledger.application import init_ledger
    from ledger.keys import PASSPHRASE_ENV
    from tests.domain.helpers import FAST_HASH, enrol_cast

    pw = "sessions-backends-passphrase"
    monkeypatch.setenv(PASSPHRASE_ENV, pw)
    monkeypatch.setattr(PMOApplication, "password_method", FAST_HASH)
    ledger, root = init_ledger(backend_url, pw, app_class=PMOApplication)
    try:
        enrol_cast(ledger, root, passphrase=pw, password="demo", people=[("pm", "Pat", "pm")])
    finally:
        ledger.close()
    app = make_app(backend_url, tmp_path)
    site = Site(app, app.test_client())
    try:
        wrong = [site.client.post("/signin", data={"username": "pm", "password": "x"}).status_code
                 for _ in range(4)]
        assert wrong == [401] * 3 + [429]
        assert "not counted" not in caplog.text
        laptop = site.as_user("admin")
        phone = site.as_user("admin")
        copied = phone.get_cookie("session").value  # type: ignore[union-attr]
        assert signed_in(laptop) and signed_in(phone)
        site.pmo.set_password("admin", "changed")
        assert not signed_in(laptop) and not signed_in(phone)
        again = app.test_client()
        assert again.post("/signin", data={"username": "admin", "password": "changed"}).status_code == 302
        assert signed_in(again)
        again.post("/signout")
        thief = app.test_client()
        thief.set_cookie("session", copied)
        assert not signed_in(again) and not signed_in(thief)
    finally:
        close_ledger(app)
