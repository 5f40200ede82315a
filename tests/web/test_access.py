"""Who may open what: every page x every role -> allowed (200) or refused (403), signed
out -> sent to sign in; refused writes leave the log as it was; links a role may not use
are not shown; CSRF tokens are required on every form."""

from __future__ import annotations

import re

import pytest

from ledger.verify import make_checkpoint
from tests.web.conftest import CODE, PW, ROLES, make_app
from web.pages.admin import PERSON_FORMS
from web.pages.items import PM_ITEM_FORMS
from web.pages.pm import FORMS

ALL = set(ROLES)
READERS = ALL - {"admin"}

# (page, the roles that may open it) — stated here, independently of web/auth.py.
PAGES: list[tuple[str, set[str]]] = [
    ("/", ALL),
    (f"/projects/{CODE}", ALL),
    ("/projects/new", {"pm"}),
    *[(f"/projects/{CODE}/act/{form}", {"pm"}) for form in FORMS],
    (f"/projects/{CODE}/gates/G1/review", {"pm"}),
    (f"/projects/{CODE}/issues/new", {"pm"}),
    *[(f"/projects/{CODE}/items/{form}/X-001", {"pm"}) for form in PM_ITEM_FORMS],
    (f"/projects/{CODE}/milestones/M-01/accept", {"sponsor"}),
    (f"/projects/{CODE}/gates/G0/conditions-met", {"pmo", "sponsor"}),
    ("/admin/people", {"admin"}),
    ("/admin/people/new", {"admin"}),
    *[(f"/admin/people/pm2/{form}", {"admin"}) for form in PERSON_FORMS],
    ("/queues/fiscal", {"fiscal"}),
    ("/queues/sponsor", {"sponsor"}),
    ("/queues/pmo", {"pmo"}),
    ("/audit/", {"auditor"}),
    ("/audit/log", {"auditor"}),
    (f"/audit/log?project={CODE}&actor=pm", {"auditor"}),
    ("/audit/events/1", {"auditor"}),
    ("/audit/verify", {"auditor"}),
    ("/audit/findings", {"auditor"}),
    (f"/audit/projects/{CODE}/as-of", {"auditor"}),
    (f"/audit/projects/{CODE}/history", {"auditor"}),
    ("/reports/variance", READERS),
    ("/reports/variance?format=csv", READERS),
    ("/reports/budget", READERS),
    (f"/reports/budget?project={CODE}&format=csv", READERS),
]


def test_every_page_for_every_role(site):
    clients = {role: site.as_user(role) for role in ROLES}
    wrong = []
    for page, allowed in PAGES:
        for role, client in clients.items():
            status = client.get(page).status_code
            expected = 200 if role in allowed else 403
            if status != expected:
                wrong.append(f"{page} as {role}: {status}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_signed_out_every_page_sends_to_sign_in(site):
    client = site.app.test_client()
    for page, _ in PAGES:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.location.startswith("/signin"), page


# (POST, form data, the one role that may) — each refused one writes nothing.
ACTIONS = [
    (f"/projects/{CODE}/act/budget-line", {"line": "SW-01", "category": "software", "amount": "100.00"}, "pm"),
    (f"/queues/fiscal/expenditure/{CODE}/EXP-0001/approve", {"reason": ""}, "fiscal"),
    (f"/queues/fiscal/transfer/{CODE}/TR-001/reject", {"reason": "not now"}, "fiscal"),
    (f"/queues/sponsor/change-request/{CODE}/CR-001/approve", {"reason": "go"}, "sponsor"),
    (f"/queues/pmo/gate-signoff/{CODE}/G0/sign", {"decision": "approved"}, "pmo"),
    ("/audit/bundle", {}, "auditor"),
    ("/admin/people/pm2/grant", {"role": "auditor", "reason": "cover"}, "admin"),
    (f"/projects/{CODE}/items/cr-withdraw/CR-001", {"reason": "superseded"}, "pm"),
]


@pytest.mark.parametrize(("url", "data", "allowed"), ACTIONS, ids=[a[0].split("/")[-1] + "-" + a[2] for a in ACTIONS])
def test_actions_are_refused_server_side_for_other_roles(site, url, data, allowed):
    if url == "/audit/bundle":  # the download carries the latest checkpoint; it signs none
        make_checkpoint(site.pmo, site.pmo.root_signer(PW))
    for role in ROLES:
        if role == allowed:
            continue
        before = site.size()
        response = site.as_user(role).post(url, data=data)
        assert response.status_code == 403, (role, response.status_code)
        assert site.size() == before, f"{role}'s refused request wrote to the log"
    response = site.as_user(allowed).post(url, data=data)
    assert response.status_code in (200, 302), response.data[:800]


def test_links_are_shown_only_to_roles_that_may_use_them(site):
    links = {"pm": "/projects/new", "fiscal": "/queues/fiscal", "sponsor": "/queues/sponsor",
             "pmo": "/queues/pmo", "auditor": "/audit/"}
    for role in ROLES:
        html = site.as_user(role).get(f"/projects/{CODE}").get_data(as_text=True)
        for owner, href in links.items():
            assert (f'href="{href}"' in html) == (owner == role), (role, href)
        assert ('id="pm-actions"' in html) == (role == "pm")
        assert ('href="/reports/variance"' in html) == (role != "admin")


def test_every_page_says_who_is_signed_in_and_their_roles(site):
    html = site.as_user("fiscal").get("/").get_data(as_text=True)
    assert "Fay Fiscal" in html and "fiscal" in html
    assert re.search(r'class="roles">fiscal<', html)


def test_wrong_password_is_refused(site):
    client = site.app.test_client()
    response = client.post("/signin", data={"username": "pm", "password": "nope"})
    assert response.status_code == 401
    assert "wrong password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_sign_in_keeps_a_safe_next_page_only(site):
    client = site.app.test_client()
    r = client.post("/signin?next=/reports/budget", data={"username": "pm", "password": "demo"})
    assert r.location == "/reports/budget"
    client.post("/signout")
    r = client.post("/signin?next=//evil.example/", data={"username": "pm", "password": "demo"})
    assert r.location == "/"


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html)[1]  # type: ignore[index]


@pytest.fixture
def csrf_site(site, tmp_path):
    """The same ledger, served with CSRF protection on (as in production)."""
    from web.ledger_access import close_ledger

    app = make_app(site.app.config["LEDGER_DB"], tmp_path, WTF_CSRF_ENABLED=True)
    yield app
    close_ledger(app)


def test_csrf_is_refused_without_the_token_and_accepted_with_it(csrf_site):
    client = csrf_site.test_client()
    assert client.post("/signin", data={"username": "pm", "password": "demo"}).status_code == 400
    token = _token(client.get("/signin").get_data(as_text=True))
    assert client.post("/signin", data={"username": "pm", "password": "demo", "csrf_token": token}).status_code == 302
    from web.ledger_access import get_pmo

    pmo = get_pmo(csrf_site)
    url = f"/projects/{CODE}/act/budget-line"
    data = {"line": "SW-01", "category": "software", "amount": "100.00"}
    before = pmo.size()
    response = client.post(url, data=data)
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert pmo.size() == before
    token = _token(client.get(url).get_data(as_text=True))
    assert client.post(url, data={**data, "csrf_token": token}).status_code == 302
    assert pmo.size() == before + 1
    # decisions and sign-out are forms too
    fiscal = csrf_site.test_client()
    token = _token(fiscal.get("/signin").get_data(as_text=True))
    fiscal.post("/signin", data={"username": "fiscal", "password": "demo", "csrf_token": token})
    before = pmo.size()
    assert fiscal.post(f"/queues/fiscal/expenditure/{CODE}/EXP-0001/approve", data={}).status_code == 400
    assert fiscal.post("/signout").status_code == 400
    assert pmo.size() == before


def test_the_api_is_exempt_from_csrf(csrf_site):
    response = csrf_site.test_client().post("/api/v1/tokens", json={"username": "pm", "password": "demo"})
    assert response.status_code != 400 or "csrf" not in response.get_data(as_text=True).lower()
