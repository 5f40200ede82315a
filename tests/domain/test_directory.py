"""People, roles, keys and credentials."""

from datetime import date

import pytest

from domain import errors
from domain.services import PMOApplication
from ledger.application import init_ledger
from tests.domain.helpers import CODE, PW, refused


def test_bootstrap_enrols_admin_with_key_registered_in_the_ring(world):
    app = world.app
    admin = app.person("admin")
    assert admin["roles"] == [{"role": "admin", "project": None}]
    ring = app.keyring()
    assert ring.keys[admin["key_id"]]["may_register_keys"] is True
    assert ring.keys[app.person("pm")["key_id"]]["may_register_keys"] is False


def test_bootstrap_only_once(world, tmp_path, monkeypatch):
    app = world.app
    root = app.root_signer(PW)
    refused(app, errors.DuplicateError, app.bootstrap, root, username="x", name="X", passphrase=PW)


def test_bootstrap_on_fresh_ledger_writes_directory_policy_and_key(tmp_path, monkeypatch):
    monkeypatch.setenv("PMO_LEDGER_PASSPHRASE", PW)
    app, root = init_ledger(f"sqlite:///{tmp_path}/l.db", PW, app_class=PMOApplication)
    try:
        with pytest.raises(errors.NotFoundError):
            app.directory()
        admin = app.bootstrap(root, username="root-admin", name="Rae Admin", passphrase=PW)
        assert admin.user_id == "root-admin" and admin.name == "Rae Admin"
        assert app.rules().dual_fiscal_threshold == 25000
        assert app.size() == 6  # ring start, key, directory x3, policy
    finally:
        app.close()


def test_enrol_grant_and_act(world):
    app = world.app
    key = app.enrol_person(world.admin, username="newpm", name="Nia New", passphrase=PW,
                           email="nia@city.gov")
    assert app.person("newpm")["key_id"] == key
    app.grant_role(world.admin, "newpm", "pm", project=CODE, reason="runs the permits project")
    newpm = app.actor("newpm", PW)
    app.charter_project(newpm, code=CODE, title="Permits", sponsor="sponsor", project_manager="newpm",
                        business_relationship_manager="B", objectives=["o"], scope_statement="s",
                        start_date=date(2025, 1, 1), target_finish=date(2025, 12, 31), fund="GF",
                        cost_centre="CC", funding_type="operating")
    # A per-project role does not reach other projects.
    refused(app, errors.NotAuthorisedError, app.amend_charter, newpm, CODE.replace("014", "999"),
            {"title": "x"}, reason="x")
    assert app.directory().roles_of("newpm", "IT-2026-999") == []
    assert app.directory().roles_of("newpm", CODE) == ["pm"]


def test_only_admins_enrol_and_grant(world):
    app = world.app
    refused(app, errors.NotAuthorisedError, app.enrol_person, world.pm, username="x", name="X", passphrase=PW)
    refused(app, errors.NotAuthorisedError, app.grant_role, world.pm, "pm2", "fiscal", reason="x")


def test_enrolment_refusals(world):
    app, admin = world.app, world.admin
    refused(app, errors.DuplicateError, app.enrol_person, admin, username="pm", name="Again", passphrase=PW)
    refused(app, errors.ValidationError, app.enrol_person, admin, username="Bad Name", name="X", passphrase=PW)
    refused(app, errors.ValidationError, app.enrol_person, admin, username="ok", name=" ", passphrase=PW)


def test_grant_refusals(world):
    app, admin = world.app, world.admin
    refused(app, errors.ValidationError, app.grant_role, admin, "pm", "king", reason="x")
    refused(app, errors.ValidationError, app.grant_role, admin, "pm", "admin", project=CODE, reason="x")
    refused(app, errors.DuplicateError, app.grant_role, admin, "pm", "pm", reason="again")
    refused(app, errors.ValidationError, app.grant_role, admin, "pm", "fiscal", reason="  ")
    refused(app, errors.NotFoundError, app.grant_role, admin, "ghost", "pm", reason="x")
    refused(app, errors.InvalidStateError, app.revoke_role, admin, "pm", "fiscal", reason="x")
    refused(app, errors.SegregationOfDutiesError, app.revoke_role, admin, "admin", "admin", reason="x")


def test_revoked_role_is_refused_at_that_moment(world):
    app = world.app
    world.charter()
    app.revoke_role(world.admin, "pm", "pm", reason="moved to another department")
    refused(app, errors.NotAuthorisedError, app.amend_charter, world.pm, CODE, {"title": "New"},
            reason="x", match="needs the pm role")
    app.grant_role(world.admin, "pm", "pm", project=CODE, reason="back on this project")
    app.amend_charter(world.pm, CODE, {"title": "New"}, reason="renamed")


def test_deactivated_person_cannot_act_or_log_in(world):
    app = world.app
    pm = world.pm
    app.deactivate_person(world.admin, "pm", reason="left the city")
    assert not app.check_password("pm", "demo")
    refused(app, errors.NotAuthorisedError, world.charter)
    with pytest.raises(errors.NotAuthorisedError):
        app.actor("pm", PW)
    assert pm.signer.key_id in app.keyring().keys and app.keyring().keys[pm.signer.key_id]["revoked"]
    refused(app, errors.SegregationOfDutiesError, app.deactivate_person, world.admin, "admin", reason="x")


def test_reissued_key_replaces_the_old_one(world):
    app = world.app
    old = world.pm
    new_key = app.reissue_key(world.admin, "pm", passphrase=PW, reason="laptop lost")
    refused(app, errors.NotAuthorisedError, app.charter_project, old, code=CODE, title="t", sponsor="s",
            project_manager="p", business_relationship_manager="b", objectives=["o"],
            scope_statement="s", start_date=date(2025, 1, 1), target_finish=date(2025, 2, 1),
            fund="f", cost_centre="c", funding_type="capital")
    fresh = app.actor("pm", PW)
    assert fresh.signer.key_id == new_key
    world._actors.clear()
    world.charter()
    refused(app, errors.SegregationOfDutiesError, app.reissue_key, world.admin, "admin", passphrase=PW,
            reason="x")


def _events_of_last_save(app, n):
    rows = app.read_chain(app.size() - n + 1, app.size())
    return [r.topic.rsplit(".", 1)[-1] for r in rows], {r.key_id for r in rows}


def test_granting_admin_reissues_the_key_with_key_management_authority(world):
    app = world.app
    old_key = world.pmo.signer.key_id
    before = app.size()
    app.grant_role(world.admin, "pmo", "admin", reason="second administrator", passphrase=PW)
    # One save, signed by the granting administrator: grant, key replaced, old revoked, new registered.
    kinds, signers = _events_of_last_save(app, app.size() - before)
    assert kinds == ["RoleGranted", "KeyReplaced", "KeyRevoked", "KeyRegistered"]
    assert signers == {world.admin.signer.key_id}
    new_key = app.person("pmo")["key_id"]
    ring = app.keyring()
    assert new_key != old_key and ring.keys[old_key]["revoked"]
    assert ring.keys[new_key]["may_register_keys"] is True and ring.keys[new_key]["owner"] == "pmo"
    # The old session's key can no longer act; signing in again gives the new, held key.
    refused(app, errors.NotAuthorisedError, app.enrol_person, world.pmo, username="x", name="X",
            passphrase=PW, match="not Polly Lead's current key")
    pmo = app.actor("pmo", PW)
    assert pmo.signer.key_id == new_key
    app.enrol_person(pmo, username="x", name="X", passphrase=PW)
    app.reissue_key(pmo, "x", passphrase=PW, reason="a second administrator manages keys")


def test_revoking_admin_reissues_the_key_without_key_management_authority(world):
    app = world.app
    app.grant_role(world.admin, "pmo", "admin", reason="second administrator", passphrase=PW)
    admin_key = app.person("pmo")["key_id"]
    before = app.size()
    app.revoke_role(world.admin, "pmo", "admin", reason="back to the PMO only", passphrase=PW)
    kinds, _ = _events_of_last_save(app, app.size() - before)
    assert kinds == ["RoleRevoked", "KeyReplaced", "KeyRevoked", "KeyRegistered"]
    ring, new_key = app.keyring(), app.person("pmo")["key_id"]
    assert ring.keys[admin_key]["revoked"] and ring.keys[new_key]["may_register_keys"] is False
    pmo = app.actor("pmo", PW)
    refused(app, errors.NotAuthorisedError, app.enrol_person, pmo, username="y", name="Y",
            passphrase=PW, match="needs the admin role")
    # Still a PMO lead, signing with the new key.
    app.change_policy(pmo, {"pending_days_limit": 20}, reason="longer queues allowed")


def test_other_roles_leave_the_key_alone(world):
    app = world.app
    key = app.person("pm2")["key_id"]
    before = app.size()
    app.grant_role(world.admin, "pm2", "auditor", reason="audit rotation")
    app.revoke_role(world.admin, "pm2", "auditor", reason="rotation over")
    assert app.size() - before == 2 and app.person("pm2")["key_id"] == key


def test_admin_grant_refusals_write_nothing(world, monkeypatch):
    app = world.app
    refused(app, errors.DuplicateError, app.grant_role, world.admin, "admin", "admin", reason="x",
            passphrase=PW)
    refused(app, errors.NotAuthorisedError, app.grant_role, world.pm, "pm2", "admin", reason="x",
            passphrase=PW, match="needs the admin role")
    monkeypatch.delenv("PMO_LEDGER_PASSPHRASE")
    refused(app, errors.ValidationError, app.grant_role, world.admin, "pmo", "admin", reason="x",
            match="passphrase")
    assert not app.directory().has_role("pmo", "admin")


def test_revoking_admin_of_a_leaver_needs_no_new_key(world):
    app = world.app
    app.grant_role(world.admin, "pmo", "admin", reason="second administrator", passphrase=PW)
    app.deactivate_person(world.admin, "pmo", reason="left the city")
    key, before = app.person("pmo")["key_id"], app.size()
    app.revoke_role(world.admin, "pmo", "admin", reason="tidy up after leaver", passphrase=PW)
    assert app.size() == before + 1 and app.person("pmo")["key_id"] == key


def test_a_signer_not_matching_the_person_is_refused(world):
    app = world.app
    from domain.services import Actor

    impostor = Actor("fiscal", "Fay Fiscal", world.pm.signer)
    world.baseline()
    e = world.expenditure("100.00")
    refused(app, errors.NotAuthorisedError, app.approve_expenditure, impostor, CODE, e,
            match="not Fay Fiscal's current key")


def test_passwords_are_hashed_outside_the_log(world):
    app = world.app
    before = app.size()
    app.set_password("pm", "s3cret!", actor=world.pm)
    assert app.size() == before
    assert app.check_password("pm", "s3cret!") and not app.check_password("pm", "demo")
    stored = app.recorder.fetch("SELECT password_hash FROM pmo_credentials WHERE username = ?", ("pm",))
    assert "s3cret" not in stored[0][0]
    refused(app, errors.NotAuthorisedError, app.set_password, "fiscal", "xxxx", actor=world.pm)
    refused(app, errors.ValidationError, app.set_password, "pm", "x")
    assert not app.check_password("nobody", "demo")


def test_api_tokens(world):
    app = world.app
    token_id, token = app.issue_api_token(world.pm, "pm", label="laptop")
    assert app.user_for_token(token) == "pm"
    assert app.user_for_token("nope") is None
    refused(app, errors.NotAuthorisedError, app.issue_api_token, world.pm, "fiscal", label="x")
    _, other = app.issue_api_token(world.admin, "fiscal", label="integration")
    assert app.user_for_token(other) == "fiscal"
    refused(app, errors.NotAuthorisedError, app.revoke_api_token, world.fiscal, token_id)
    app.revoke_api_token(world.pm, token_id)
    assert app.user_for_token(token) is None
    refused(app, errors.NotFoundError, app.revoke_api_token, world.pm, "missing")
    stored = app.recorder.fetch("SELECT token_hash FROM pmo_api_tokens")
    assert all(token not in r[0] for r in stored)


def test_api_tokens_expire(world):
    from datetime import UTC, datetime, timedelta

    from domain.clock import simulated

    app = world.app
    refused(app, errors.ValidationError, app.issue_api_token, world.pm, "pm", label="x", days=0)
    refused(app, errors.ValidationError, app.issue_api_token, world.pm, "pm", label="x", days=366)
    _, token = app.issue_api_token(world.pm, "pm", label="day", days=1)
    later = datetime.now(UTC) + timedelta(days=1, seconds=1)
    assert app.user_for_token(token) == "pm"
    with simulated(lambda: later):
        assert app.user_for_token(token) is None


def test_a_tokens_table_from_before_expiry_gains_the_column(world):
    """Tokens issued before tokens expired keep working (no expiry) until revoked."""
    app = world.app
    side = app.side_store
    side.execute("DROP TABLE IF EXISTS pmo_api_tokens")
    side.execute(
        "CREATE TABLE pmo_api_tokens (token_hash TEXT PRIMARY KEY, token_id TEXT NOT NULL UNIQUE, "
        "username TEXT NOT NULL, label TEXT NOT NULL, revoked INTEGER NOT NULL)")
    from domain.credentials import token_hash

    side.execute("INSERT INTO pmo_api_tokens VALUES (?, 'old1', 'pm', 'old', 0)",
                 (token_hash("old-token"),))
    app.create_side_tables()
    assert app.user_for_token("old-token") == "pm"
    assert app.api_token_expiry("old1") is None
    token_id, token = app.issue_api_token(world.pm, "pm", label="new")
    assert app.user_for_token(token) == "pm" and app.api_token_expiry(token_id) is not None
