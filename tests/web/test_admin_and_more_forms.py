"""The administrator's pages (people, roles, keys) and the item forms (risks, issues,
change-request withdrawal, milestone acceptance, gate conditions met): each accepted form
writes its signed event(s); a refused one comes back with the input and field messages,
status 422, log unchanged; only the right roles may open them; CSRF is required."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from tests.web.conftest import CODE, PW, ROLES, make_app, text_of

ADMIN_PAGES = ["/admin/people", "/admin/people/new", *[f"/admin/people/pm2/{f}" for f in
               ("grant", "revoke", "reissue-key", "deactivate")]]
ITEM_PAGES: list[tuple[str, set[str]]] = [
    (f"/projects/{CODE}/issues/new", {"pm"}),
    *[(f"/projects/{CODE}/items/{form}/{item}", {"pm"}) for form, item in (
        ("risk-update", "R-001"), ("risk-close", "R-001"), ("issue-escalate", "I-001"),
        ("issue-resolve", "I-001"), ("cr-withdraw", "CR-001"))],
    (f"/projects/{CODE}/milestones/M-01/accept", {"sponsor"}),
    (f"/projects/{CODE}/gates/G0/conditions-met", {"pmo", "sponsor"}),
]


def _last_event(site) -> dict:
    n = site.size()
    row = site.pmo.read_chain(n, n)[0]
    return {"topic": row.topic, **json.loads(row.state)}


def _keeps(html: str, data: dict[str, str]) -> None:
    for name, value in data.items():
        if name == "password":
            assert f'value="{value}"' not in html  # never echoed
            continue
        shown = (f'value="{value}"' in html or f">{value}</textarea>" in html
                 or f'value="{value}" selected' in html)
        assert shown, (name, value)


# Access ---------------------------------------------------------------------------------------


def test_only_the_administrator_opens_the_admin_pages(site):
    for role in ROLES:
        client = site.as_user(role)
        for page in ADMIN_PAGES:
            assert client.get(page).status_code == (200 if role == "admin" else 403), (role, page)
    before = site.size()
    response = site.as_user("pm").post("/admin/people/new", data={
        "username": "mallory", "name": "Mallory", "password": "secret1"})
    assert response.status_code == 403
    assert site.size() == before


def test_item_pages_for_every_role(site):
    clients = {role: site.as_user(role) for role in ROLES}
    for page, allowed in ITEM_PAGES:
        for role, client in clients.items():
            assert client.get(page).status_code == (200 if role in allowed else 403), (role, page)


def test_the_people_page_lists_roles_and_key_fingerprints(site):
    html = site.as_user("admin").get("/admin/people").get_data(as_text=True)
    key = site.pmo.person("fiscal")["key_id"]
    assert key in html and "Fay Fiscal" in html
    assert re.search(r'data-username="fiscal">.*?<td>fiscal</td>', html, re.S)
    assert 'href="/admin/people"' in html  # the nav link


def test_the_people_link_is_shown_to_the_administrator_only(site):
    for role in ROLES:
        html = site.as_user(role).get("/").get_data(as_text=True)
        assert ('href="/admin/people"' in html) == (role == "admin"), role


# Administrator forms ------------------------------------------------------------------------


def test_enrol_a_person(site):
    client = site.sign_in("admin")
    before = site.size()
    response = client.post("/admin/people/new", data={
        "username": "nina", "name": "Nina New", "email": "nina@example.org", "password": "welcome1"})
    assert response.status_code == 302, text_of(response.data)[:1500]
    assert response.location == "/admin/people"
    assert site.size() > before
    person = site.pmo.person("nina")
    assert person["name"] == "Nina New" and person["active"]
    assert "nina enrolled" in client.get("/admin/people").get_data(as_text=True)
    assert site.pmo.check_password("nina", "welcome1")


@pytest.mark.parametrize(("data", "field", "status"), [
    ({"username": "nina", "name": "Nina New", "email": "n@example.org", "password": "ab"}, "password", 422),
    ({"username": "Nina New", "name": "Nina New", "password": "welcome1"}, "username", 422),
    ({"username": "pm", "name": "Another Pat", "password": "welcome1"}, "username", 409),
])
def test_a_refused_enrolment_keeps_the_input(site, data, field, status):
    client = site.sign_in("admin")
    before = site.size()
    response = client.post("/admin/people/new", data=data)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert f'data-field="{field}"' in html, text_of(response.data)[:1500]
    assert "Nothing was recorded" in html
    _keeps(html, data)
    assert site.size() == before


def test_grant_and_revoke_a_role(site):
    client = site.sign_in("admin")
    before = site.size()
    r = client.post("/admin/people/pm2/grant", data={"role": "sponsor", "project": CODE, "reason": "acting sponsor"})
    assert r.status_code == 302, text_of(r.data)[:1500]
    assert site.size() == before + 1
    assert _last_event(site)["topic"].endswith(".RoleGranted")
    directory = site.pmo.directory()
    assert directory.has_role("pm2", "sponsor", CODE) and not directory.has_role("pm2", "sponsor", "XX-2026-001")
    r = client.post("/admin/people/fiscal2/revoke", data={"role": "fiscal", "reason": "moved team"})
    assert r.status_code == 302, text_of(r.data)[:1500]
    assert _last_event(site)["topic"].endswith(".RoleRevoked")
    assert not site.pmo.directory().has_role("fiscal2", "fiscal")
    html = client.get("/admin/people").get_data(as_text=True)
    assert f"sponsor ({CODE})" in html


@pytest.mark.parametrize(("form", "data", "field", "status"), [
    ("grant", {"role": "wizard", "project": CODE, "reason": "why not"}, "role", 422),
    ("grant", {"role": "sponsor", "project": "not a code", "reason": "x"}, "project", 422),
    ("revoke", {"role": "fiscal", "project": ""}, "reason", 422),
    ("revoke", {"role": "auditor", "reason": "not held"}, "_schema", 422),
    ("reissue-key", {"reason": ""}, "reason", 422),
    ("deactivate", {"reason": "  "}, "reason", 422),
])
def test_a_refused_person_form_writes_nothing(site, form, data, field, status):
    client = site.sign_in("admin")
    before = site.size()
    response = client.post(f"/admin/people/fiscal2/{form}", data=data)
    assert response.status_code == status, text_of(response.data)[:1500]
    html = response.get_data(as_text=True)
    assert f'data-field="{field}"' in html, text_of(response.data)[:1500]
    _keeps(html, {k: v for k, v in data.items() if v.strip()})
    assert site.size() == before


def test_reissue_a_key(site):
    client = site.sign_in("admin")
    old = site.pmo.person("pm2")["key_id"]
    before = site.size()
    r = client.post("/admin/people/pm2/reissue-key", data={"reason": "laptop lost"})
    assert r.status_code == 302, text_of(r.data)[:1500]
    assert site.size() > before
    new = site.pmo.person("pm2")["key_id"]
    assert new != old
    assert new in client.get("/admin/people").get_data(as_text=True)
    # the person still acts, with the new key
    assert site.pmo.actor("pm2", PW).signer.key_id == new


def test_deactivate_a_person(site):
    client = site.sign_in("admin")
    fiscal2 = site.as_user("fiscal2")
    r = client.post("/admin/people/fiscal2/deactivate", data={"reason": "left the city"})
    assert r.status_code == 302, text_of(r.data)[:1500]
    assert not site.pmo.directory().is_active("fiscal2")
    assert fiscal2.get("/").status_code == 302  # signed out at once
    assert "deactivated" in client.get("/admin/people").get_data(as_text=True)


def test_unknown_person_or_form_is_404(site):
    client = site.sign_in("admin")
    assert client.get("/admin/people/nobody/grant").status_code == 404
    assert client.get("/admin/people/pm2/approve").status_code == 404


# Item forms ---------------------------------------------------------------------------------


def _prepare(site) -> None:
    """R-001 and I-001 raised; M-01 reported 100%; G0 passed with a condition."""
    pmo = site.pmo
    pm = pmo.actor("pm", PW)
    pmo.raise_risk(pm, CODE, title="Vendor turnover", probability=3, impact=4, owner="Pat Manager",
                   mitigation="Key personnel clause")
    pmo.raise_issue(pm, CODE, title="Server delay", description="Late delivery", severity="high",
                    owner="Pat Manager")
    pmo.report_progress(pm, CODE, "M-01", percent=100, as_of=date(2025, 6, 30))
    for who in ("pmo", "sponsor"):
        pmo.sign_off_gate(pmo.actor(who, PW), CODE, "G0", decision="approved-with-conditions",
                          conditions="Security review booked")


# name -> (who, url, valid data, event, refused data, field with a message)
ITEM_FORMS: dict[str, tuple[str, str, dict[str, str], str, dict[str, str], str]] = {
    "issue": ("pm", f"/projects/{CODE}/issues/new",
              {"title": "Permit API down", "description": "Outage", "severity": "critical", "owner": "Pat"},
              "IssueRaised", {"title": "Permit API down", "description": "Outage", "severity": "dire",
                              "owner": "Pat"}, "severity"),
    "risk-update": ("pm", f"/projects/{CODE}/items/risk-update/R-001",
                    {"probability": "4", "status": "mitigating", "reason": "vendor reorganised"},
                    "RiskUpdated", {"probability": "7", "reason": "worse"}, "probability"),
    "risk-close": ("pm", f"/projects/{CODE}/items/risk-close/R-001", {"reason": "vendor replaced"},
                   "RiskClosed", {"reason": ""}, "reason"),
    "issue-escalate": ("pm", f"/projects/{CODE}/items/issue-escalate/I-001",
                       {"to": "sponsor", "reason": "blocks go-live"}, "IssueEscalated",
                       {"to": "sponsor"}, "reason"),
    "issue-resolve": ("pm", f"/projects/{CODE}/items/issue-resolve/I-001",
                      {"resolution": "second supplier"}, "IssueResolved", {"resolution": " "}, "resolution"),
    "cr-withdraw": ("pm", f"/projects/{CODE}/items/cr-withdraw/CR-001", {"reason": "superseded"},
                    "ChangeRequestWithdrawn", {"reason": ""}, "reason"),
    "milestone-accept": ("sponsor", f"/projects/{CODE}/milestones/M-01/accept",
                         {"accepted_on": "2025-07-01", "reason": "UAT passed"}, "MilestoneAccepted",
                         {"accepted_on": "2025-02-30", "reason": "UAT passed"}, "accepted_on"),
    "gate-conditions-met": ("pmo", f"/projects/{CODE}/gates/G0/conditions-met",
                            {"conditions": "Security review booked", "reason": "booked for May"},
                            "GateConditionsMet",
                            {"conditions": "Something else", "reason": "done"}, "conditions"),
}


@pytest.mark.parametrize("name", sorted(ITEM_FORMS))
def test_an_item_form_records_its_event(site, name):
    who, url, data, event, _, _ = ITEM_FORMS[name]
    _prepare(site)
    client = site.sign_in(who)
    page = client.get(url)
    assert page.status_code == 200 and 'name="csrf_token"' in page.get_data(as_text=True)
    before = site.size()
    response = client.post(url, data=data)
    assert response.status_code == 302, text_of(response.data)[:1500]
    assert response.location == f"/projects/{CODE}"
    assert site.size() == before + 1
    last = _last_event(site)
    assert last["topic"].endswith("." + event) and last["actor_id"] == who
    assert 'class="flash ok"' in client.get(response.location).get_data(as_text=True)


@pytest.mark.parametrize("name", sorted(ITEM_FORMS))
def test_a_refused_item_form_keeps_the_input(site, name):
    who, url, _, _, data, field = ITEM_FORMS[name]
    _prepare(site)
    client = site.sign_in(who)
    before = site.size()
    response = client.post(url, data=data)
    assert response.status_code == 422, text_of(response.data)[:1500]
    html = response.get_data(as_text=True)
    assert f'data-field="{field}"' in html, text_of(response.data)[:1500]
    assert "Nothing was recorded" in html
    _keeps(html, {k: v for k, v in data.items() if v.strip()})
    assert site.size() == before


def test_the_project_page_links_the_item_forms_for_who_may_act(site):
    _prepare(site)
    links = {
        "pm": [f"/projects/{CODE}/issues/new", f"/projects/{CODE}/items/risk-update/R-001",
               f"/projects/{CODE}/items/risk-close/R-001", f"/projects/{CODE}/items/issue-escalate/I-001",
               f"/projects/{CODE}/items/issue-resolve/I-001", f"/projects/{CODE}/items/cr-withdraw/CR-001"],
        "sponsor": [f"/projects/{CODE}/milestones/M-01/accept", f"/projects/{CODE}/gates/G0/conditions-met"],
        "pmo": [f"/projects/{CODE}/gates/G0/conditions-met"],
    }
    for role in ROLES:
        html = site.as_user(role).get(f"/projects/{CODE}").get_data(as_text=True)
        for owner, hrefs in links.items():
            for href in hrefs:
                assert (f'href="{href}"' in html) == (role == owner or href in links.get(role, [])), (role, href)


# CSRF ---------------------------------------------------------------------------------------


def test_csrf_is_required_on_the_new_forms(site, tmp_path):
    from web.ledger_access import close_ledger, get_pmo

    app = make_app(site.app.config["LEDGER_DB"], tmp_path, WTF_CSRF_ENABLED=True)
    try:
        pmo = get_pmo(app)
        for who, url, data in (
            ("admin", "/admin/people/new", {"username": "nina", "name": "Nina", "password": "welcome1"}),
            ("admin", "/admin/people/pm2/deactivate", {"reason": "left"}),
            ("pm", f"/projects/{CODE}/items/cr-withdraw/CR-001", {"reason": "superseded"}),
        ):
            client = app.test_client()
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signin").get_data(as_text=True))[1]
            assert client.post("/signin", data={"username": who, "password": "demo",
                                                "csrf_token": token}).status_code == 302
            before = pmo.size()
            response = client.post(url, data=data)
            assert response.status_code == 400
            assert "security token" in response.get_data(as_text=True)
            assert pmo.size() == before
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True))[1]
            assert client.post(url, data={**data, "csrf_token": token}).status_code == 302
            assert pmo.size() > before
    finally:
        close_ledger(app)
