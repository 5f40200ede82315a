"""People and roles (features/people.feature)."""

from pytest_bdd import given, scenarios, then, when

from features.conftest import PW, Ledger, step

scenarios("people.feature")


@given(step('the project "{code}" has been chartered by {user:w}'))
def other_project(world: Ledger, code: str, user: str) -> None:
    world.charter(code, by=user, title="Another project")


@when(step('{user:w} enrols "{username}" as "{name}"'))
def enrols(world: Ledger, user: str, username: str, name: str) -> None:
    world.attempt(lambda: world.app.enrol_person(world.actor(user), username=username, name=name,
                                                 passphrase=PW, reason="new starter"))


@given(step('{user:w} has enrolled "{username}" as "{name}" with the admin role'))
def has_enrolled_admin(world: Ledger, user: str, username: str, name: str) -> None:
    world.app.enrol_person(world.actor(user), username=username, name=name, passphrase=PW)
    # Granting the admin role re-issues their key with key-management authority.
    world.app.grant_role(world.actor(user), username, "admin", reason="second administrator",
                         passphrase=PW)


@then(step("{user:w}'s signing key may register keys"))
def key_may_register(world: Ledger, user: str) -> None:
    world.no_unclaimed_refusal()
    key = world.app.person(user)["key_id"]
    assert world.app.keyring().keys[key]["may_register_keys"] is True


@then(step("{user:w}'s signing key may not register keys"))
def key_may_not_register(world: Ledger, user: str) -> None:
    world.no_unclaimed_refusal()
    key = world.app.person(user)["key_id"]
    assert world.app.keyring().keys[key]["may_register_keys"] is False


@then(step("{user:w}'s previous key is revoked"))
def previous_key_revoked(world: Ledger, user: str) -> None:
    world.no_unclaimed_refusal()
    old = world.actor(user).signer.key_id  # the key of their earlier session
    assert old != world.app.person(user)["key_id"]
    assert world.app.keyring().keys[old]["revoked"]


@given(step("{user:w} has revoked {who:w}'s {role:w} role"))
def has_revoked(world: Ledger, user: str, who: str, role: str) -> None:
    world.actor(who)
    world.app.revoke_role(world.actor(user), who, role, reason="rotation")


@when(step('{user:w} grants {who:w} the {role:w} role because "{reason}"'))
def grants(world: Ledger, user: str, who: str, role: str, reason: str) -> None:
    world.attempt(lambda: world.app.grant_role(world.actor(user), who, role, reason=reason))


@when(step('{user:w} grants {who:w} the {role:w} role on {code} because "{reason}"'))
def grants_on(world: Ledger, user: str, who: str, role: str, code: str, reason: str) -> None:
    world.attempt(lambda: world.app.grant_role(world.actor(user), who, role, project=code,
                                               reason=reason))


@when(step("{user:w} revokes {who:w}'s {role:w} role because \"{reason}\""))
def revokes(world: Ledger, user: str, who: str, role: str, reason: str) -> None:
    world.actor(who)  # they signed in before; their session still holds their key
    world.attempt(lambda: world.app.revoke_role(world.actor(user), who, role, reason=reason))


@when(step('{user:w} deactivates {who:w} because "{reason}"'))
def deactivates(world: Ledger, user: str, who: str, reason: str) -> None:
    world.actor(who)
    world.attempt(lambda: world.app.deactivate_person(world.actor(user), who, reason=reason))


@given(step("{user:w} has signed in"))
def has_signed_in(world: Ledger, user: str) -> None:
    world.actor(user)


@when(step("{user:w} signs in again"))
def signs_in_again(world: Ledger, user: str) -> None:
    world.attempt(lambda: world.sign_in_again(user))


@when(step("{user:w} re-issues {who:w}'s key because \"{reason}\""))
def reissues(world: Ledger, user: str, who: str, reason: str) -> None:
    world.attempt(lambda: world.app.reissue_key(world.actor(user), who, passphrase=PW, reason=reason))


@when(step('{user:w} raises the risk "{title}" on {code}'))
def raises_risk_on(world: Ledger, user: str, title: str, code: str) -> None:
    world.attempt(lambda: world.app.raise_risk(world.actor(user), code, title=title, probability=2,
                                               impact=2, owner="Bea Relations", mitigation="monitor"))


@when(step('{user:w} sets {who:w}\'s password to "{password}"'))
def sets_password(world: Ledger, user: str, who: str, password: str) -> None:
    world.attempt(lambda: world.app.set_password(who, password, actor=world.actor(user)))


@then(step('{user:w} can log in with "{good}" but not with "{bad}"'))
def can_log_in(world: Ledger, user: str, good: str, bad: str) -> None:
    world.no_unclaimed_refusal()
    assert world.app.check_password(user, good)
    assert not world.app.check_password(user, bad)


@then(step("{user:w} holds the {role:w} role on {code} only"))
def holds_role_on(world: Ledger, user: str, role: str, code: str) -> None:
    world.no_unclaimed_refusal()
    directory = world.app.directory()
    assert directory.has_role(user, role, code)
    assert not directory.has_role(user, role, None)
    assert not directory.has_role(user, role, "IT-2026-015")


@then(step("the log still shows {user:w} held the {role:w} role before the revocation"))
def history_shows_role(world: Ledger, user: str, role: str) -> None:
    grants = [r for r in world.app.iter_chain() if r.topic and r.topic.endswith(
        ("Directory.RoleGranted", "Directory.RoleRevoked"))]
    mine = [r.topic.rsplit(".", 1)[-1] for r in grants if f'"username":"{user}"' in r.state.decode()
            and f'"role":"{role}"' in r.state.decode()]
    assert mine == ["RoleGranted", "RoleRevoked"]
