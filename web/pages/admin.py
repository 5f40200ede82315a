"""The administrator's pages: people with their roles and signing-key fingerprints;
enrol a person, grant and revoke roles, re-issue a key, deactivate a person. A revocation
or deactivation ends every session of the person concerned (web/sessions.py).

Only `admin` may open them. Each form goes through its shared schema and the generic
form view of web/pages/pm.py: a refusal is shown again with messages (422, or the domain's
status), nothing written. Administrators approve nothing: there is no decision here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, render_template, url_for

from domain.errors import NotFoundError
from web import schemas as s
from web.auth import requires
from web.ledger_access import get_pmo, passphrase
from web.pages.pm import FormSpec, _run
from web.sessions import sessions

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _ending_sessions(act: Callable[[Any, Any, str, dict[str, Any]], Any]) -> Callable[..., Any]:
    """`act`, then, once it has succeeded, every session of the person ends (web/sessions.py):
    they sign in again, under what they now hold."""

    def run(pmo: Any, actor: Any, username: str, data: dict[str, Any]) -> Any:
        result = act(pmo, actor, username, data)
        sessions().end_all(username)
        return result

    return run


# form -> (spec, act(pmo, actor, username, kwargs))
PERSON_FORMS: dict[str, FormSpec] = {
    "grant": FormSpec(
        "Grant a role to {username}", s.RoleSchema,
        lambda pmo, a, u, d: pmo.grant_role(a, u, d["role"], project=d["project"],
                                            reason=d["reason"], passphrase=passphrase()),
        "Role {role} granted to {username}",
        intro="Leave the project empty for a role on every project. Granting admin re-issues "
              "the person's key."),
    "revoke": FormSpec(
        "Revoke a role of {username}", s.RoleSchema,
        _ending_sessions(lambda pmo, a, u, d: pmo.revoke_role(
            a, u, d["role"], project=d["project"], reason=d["reason"], passphrase=passphrase())),
        "Role {role} revoked from {username}",
        intro="Name the role as it was granted (with its project, if any). It stops at once."),
    "reissue-key": FormSpec(
        "Re-issue the signing key of {username}", s.ReasonSchema,
        lambda pmo, a, u, d: pmo.reissue_key(a, u, passphrase=passphrase(), **d),
        "New key {result} issued to {username}; the old one is revoked"),
    "deactivate": FormSpec(
        "Deactivate {username}", s.ReasonSchema,
        _ending_sessions(lambda pmo, a, u, d: pmo.deactivate_person(a, u, **d)),
        "{username} deactivated; their key is revoked",
        intro="A leaver: they can no longer sign in or act. Their records stay."),
}


@bp.get("/people")
@requires("admin")
def people() -> Any:
    directory = get_pmo().directory()
    rows = [{"username": u, **p} for u, p in sorted(directory.people.items())]
    return render_template("admin/people.html", people=rows, forms=PERSON_FORMS)


@bp.route("/people/new", methods=["GET", "POST"])
@requires("admin")
def enrol() -> Any:
    spec = FormSpec("Enrol a person", s.EnrolSchema, lambda *_: None, "",
                    intro="A signing key is made for them and held by the server, encrypted.")
    return _run(spec, None, title=spec.title,
                act=lambda pmo, a, d: pmo.enrol_person(a, passphrase=passphrase(), **d),
                done="{username} enrolled with key {result}",
                redirect_to=lambda d, _: url_for("admin.people"))


@bp.route("/people/<username>/<form>", methods=["GET", "POST"])
@requires("admin")
def person_form(username: str, form: str) -> Any:
    spec = PERSON_FORMS.get(form)
    if spec is None:
        abort(404)
    try:
        get_pmo().person(username)
    except NotFoundError:
        abort(404)
    return _run(spec, None, title=spec.title.format(username=username),
                act=lambda pmo, a, d: spec.act(pmo, a, username, d),
                done=spec.done.replace("{username}", username),
                redirect_to=lambda d, _: url_for("admin.people"))
