"""People, roles and signing keys; the approval policy; passwords and API tokens.

People and keys are events on the directory and the ledger's key ring, signed by an
administrator; the policy is an event on the policy aggregate, changed by the PMO lead.
Passwords and API tokens are not events: they are kept hashed by the credential store
(domain/credentials.py); this handler decides who may set or issue them."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from domain import clock
from domain.commands import COMMANDS
from domain.common import Who
from domain.credentials import CredentialStore
from domain.directory import DIRECTORY_ID, Directory
from domain.errors import (
    DuplicateError,
    NotAuthorisedError,
    SegregationOfDutiesError,
    ValidationError,
)
from domain.handlers.base import Actor, Done, Handler, UnitOfWork
from domain.policy import Policy
from ledger.errors import (
    KeyNotFoundError,
    KeyPassphraseError,
    KeyRevokedError,
    NotAuthorisedToRegisterKeysError,
)
from ledger.keyring import KeyRing
from ledger.keys import Signer, configured_passphrase

TOKEN_DAYS = 90  # a bearer token's life unless asked otherwise
MAX_TOKEN_DAYS = 365
ROOT_ACTOR_ID = "ledger-root"


class PeopleHandler(Handler):
    """People, keys, policy and credential commands."""

    def __init__(self, app: Any, credentials: CredentialStore) -> None:
        super().__init__(app)
        self.credentials = credentials

    # Bootstrap and actors ------------------------------------------------------------------

    def bootstrap(self, root: Signer, *, username: str, name: str, passphrase: str,
                  password: str | None = None, email: str = "") -> Actor:
        """Open the directory and the default policy and enrol the first administrator,
        all signed by the ledger root key. Once per ledger; returns the administrator."""
        if self.app.has_events(DIRECTORY_ID):
            raise DuplicateError("this ledger already has a directory; enrol people as an administrator")
        signer = Signer.generate(username)
        by = Who(ROOT_ACTOR_ID, "Ledger root key")
        directory = Directory.open(by=by)
        directory.enrol(username=username, name=name, email=email, key_id=signer.key_id, by=by,
                        reason="first administrator")
        directory.grant_role(username=username, role="admin", project=None, by=by,
                             reason="first administrator")
        ring = self.app.keyring()
        ring.register_key(
            key_id=signer.key_id, public_key=signer.public_bytes.hex(), owner=username,
            may_register_keys=True, by_key_id=root.key_id, actor_id=by.actor_id,
            actor_name=by.actor_name, reason=f"signing key for {username}",
        )
        policy = Policy.adopt(by=by)
        self.app.append(ring, directory, policy, signer=root)
        self.app.keystore.put(signer, passphrase)
        if password:
            self.set_password(username, password)
        return Actor(username, directory.person(username)["name"], signer)

    def actor(self, username: str, passphrase: str) -> Actor:
        """The Actor for `username`, with their held key; refused if deactivated or revoked."""
        person = self.app.reading_directory(lambda d: dict(d.check_active(username)))
        try:
            signer = self.app.signer_for(person["key_id"], passphrase)
        except (KeyRevokedError, KeyNotFoundError) as e:
            raise NotAuthorisedError(f"{person['name']} cannot sign: {e}") from None
        return Actor(username, person["name"], signer)

    # People, roles and keys (administrators) -----------------------------------------------

    def admin_context(self, actor: Actor, command: str) -> tuple[Directory, KeyRing]:
        """The directory and key ring as stored now, once the actor is checked to be an
        administrator who may give `command`."""
        directory, keyring = self.app.directory(), self.app.keyring()
        self.check_may(actor, COMMANDS[command], None, None, directory, keyring)
        return directory, keyring

    def enrol_person(
        self, actor: Actor, *, username: str, name: str, passphrase: str,
        password: str | None = None, email: str = "", reason: str = "enrolled",
    ) -> Done:
        """Enrol a person with a new signing key held by the server; returns the key id."""
        signer = Signer.generate(username)

        def decide() -> tuple[str, list[Aggregate]]:
            directory, ring = self.admin_context(actor, "enrol_person")
            directory.enrol(username=username, name=name, email=email, key_id=signer.key_id,
                            by=actor.who, reason=reason)
            self._register_key(ring, actor, signer, username)
            return signer.key_id, [ring, directory]

        done = self.run(actor, decide, None)
        self.app.keystore.put(signer, passphrase)
        if password:
            self.set_password(username, password)
        return done

    def grant_role(self, actor: Actor, username: str, role: str, *, project: str | None = None,
                   reason: str, passphrase: str | None = None) -> Done:
        """Grant `role` globally (project=None) or for one project code.

        Granting `admin` also re-issues the person's signing key, in the same save: the
        new key is registered with key-management authority (it may register and revoke
        keys), signed by the granting administrator, and the old key is revoked. The new
        private key is held by the server encrypted under `passphrase` (default: the
        configured key passphrase, $PMO_LEDGER_PASSPHRASE); the person signs in again."""
        return self._change_role("grant_role", actor, username, role, passphrase, lambda d: d.grant_role(
            username=username, role=role, project=project, by=actor.who, reason=reason))

    def revoke_role(self, actor: Actor, username: str, role: str, *, project: str | None = None,
                    reason: str, passphrase: str | None = None) -> Done:
        """Revoke a role; from this moment the person can no longer act in it.

        Revoking `admin` also re-issues the person's key without key-management authority
        (old key revoked, new one held under `passphrase` as for `grant_role`), so the key
        they held as an administrator can no longer register keys."""
        return self._change_role("revoke_role", actor, username, role, passphrase, lambda d: d.revoke_role(
            username=username, role=role, project=project, by=actor.who, reason=reason))

    def _change_role(self, command: str, actor: Actor, username: str, role: str,
                     passphrase: str | None, change: Callable[[Directory], None]) -> Done:
        """Grant or revoke a role; for `admin`, re-issue the person's key to match, in one save."""
        granted = command == "grant_role"
        signer = Signer.generate(username) if role == "admin" else None
        what = "granted: the new key may register keys" if granted else \
            "revoked: the new key may not register keys"
        held_under: list[str] = []

        def decide() -> tuple[None, list[Aggregate]]:
            directory, ring = self.admin_context(actor, command)
            change(directory)
            if signer is None or not directory.is_active(username):
                return None, [directory]  # a leaver's key was revoked when they left
            held_under[:] = [self.check_key_passphrase(passphrase, "granting or revoking the admin role")]
            self._swap_key(directory, ring, actor, username, signer,
                           reason=f"admin role {what}", may_register=granted)
            return None, [directory, ring]

        done = self.run(actor, decide, None)
        if signer is not None and held_under:
            self.app.keystore.put(signer, held_under[0])
        return done

    def reissue_key(self, actor: Actor, username: str, *, passphrase: str, reason: str) -> Done:
        """Revoke the person's current key and register a new one; returns the new key id.
        The new key may register keys when the person is an administrator."""
        signer = Signer.generate(username)

        def decide() -> tuple[str, list[Aggregate]]:
            directory, ring = self.admin_context(actor, "reissue_key")
            self._swap_key(directory, ring, actor, username, signer, reason=reason,
                           may_register=directory.has_role(username, "admin"))
            return signer.key_id, [directory, ring]

        done = self.run(actor, decide, None)
        self.app.keystore.put(signer, passphrase)
        return done

    def deactivate_person(self, actor: Actor, username: str, *, reason: str) -> Done:
        """Deactivate a person (leaver): their key is revoked, they can no longer act."""

        def decide() -> tuple[None, list[Aggregate]]:
            directory, ring = self.admin_context(actor, "deactivate_person")
            key = directory.person(username)["key_id"]
            directory.deactivate(username=username, by=actor.who, reason=reason)
            _key_call(ring.revoke_key, key_id=key, by_key_id=actor.signer.key_id,
                      actor_id=actor.user_id, actor_name=actor.name, reason=reason)
            return None, [directory, ring]

        return self.run(actor, decide, None)

    def _swap_key(self, directory: Directory, ring: KeyRing, actor: Actor, username: str,
                  signer: Signer, *, reason: str, may_register: bool) -> None:
        """Replace `username`'s key by `signer`'s: directory, revocation, registration."""
        self.check_not_own_key(actor, username)
        old = directory.person(username)["key_id"]
        directory.replace_key(username=username, key_id=signer.key_id, by=actor.who, reason=reason)
        _key_call(ring.revoke_key, key_id=old, by_key_id=actor.signer.key_id,
                  actor_id=actor.user_id, actor_name=actor.name, reason=reason)
        self._register_key(ring, actor, signer, username, may_register=may_register)

    @staticmethod
    def check_not_own_key(actor: Actor, username: str) -> None:
        """Administrators cannot replace their own key: the command would be signed with
        the very key it revokes."""
        if username == actor.user_id:
            raise SegregationOfDutiesError(
                "administrators cannot re-issue their own key; ask another administrator")

    @staticmethod
    def check_key_passphrase(passphrase: str | None, action: str) -> str:
        """The passphrase a re-issued key is held under (given, or configured)."""
        try:
            return configured_passphrase(passphrase)
        except KeyPassphraseError:
            raise ValidationError(f"{action} re-issues a signing key held by the server: "
                                  "a key passphrase is needed", field="passphrase") from None

    @staticmethod
    def _register_key(ring: KeyRing, actor: Actor, signer: Signer, username: str,
                      may_register: bool = False) -> None:
        _key_call(
            ring.register_key, key_id=signer.key_id, public_key=signer.public_bytes.hex(),
            owner=username, may_register_keys=may_register, by_key_id=actor.signer.key_id,
            actor_id=actor.user_id, actor_name=actor.name, reason=f"signing key for {username}",
        )

    # Policy --------------------------------------------------------------------------------

    def change_policy(self, actor: Actor, changes: dict[str, Any], *, reason: str,
                      unit: UnitOfWork | None = None) -> Done:
        """Change approval rules (PMO lead). Keys: dual_fiscal_threshold, sponsor_threshold,
        gate_signoff_roles, change_approver_role, variance_green, variance_amber,
        pending_days_limit. Acts already recorded keep being judged by the old rules."""

        def decide() -> tuple[None, list[Aggregate]]:
            if unit is not None:
                raise RuntimeError("a batch runs project commands only; "
                                   "Policy changes are saved on their own")
            self.check_may(actor, COMMANDS["change_policy"], None, None,
                           self.app.directory(), self.app.keyring())
            policy = self.app.policy()
            policy.change(changes=changes, by=actor.who, reason=reason)
            return None, [policy]

        return self.run(actor, decide, unit)

    # Credentials (hashed, never events) ------------------------------------------------------

    def check_admin_for(self, actor: Actor, username: str, action: str) -> Directory:
        """The directory, once `actor` (signing validly) is `username` or an administrator."""
        directory = self.app.directory()
        self.check_actor(actor, directory)
        if actor.user_id != username:
            directory.check_role(actor.user_id, ("admin",), None, action)
        return directory

    def set_password(self, username: str, password: str, *, actor: Actor | None = None) -> None:
        """Set a password. With an `actor`, only that person or an administrator may."""
        from werkzeug.security import generate_password_hash

        directory = self.app.directory()
        directory.person(username)
        if actor is not None and actor.user_id != username:
            self.check_admin_for(actor, username, "set another person's password")
        if len(password) < 4:
            raise ValidationError("a password needs at least 4 characters", field="password")
        self.credentials.set_password_hash(
            username, generate_password_hash(password, method=self.app.password_method))

    def check_password(self, username: str, password: str) -> bool:
        """True when the password matches and the person is still active."""
        from werkzeug.security import check_password_hash

        hashed = self.credentials.password_hash(username)
        if hashed is None or not check_password_hash(hashed, password):
            return False
        return self.app.directory().is_active(username)

    def issue_api_token(self, actor: Actor, username: str, *, label: str,
                        days: int = TOKEN_DAYS) -> tuple[str, str]:
        """A new bearer token for `username` (self or, for an admin, anyone), valid for
        `days`: returns (token id, token). Only its SHA-256 is stored; the token is shown
        once."""
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise ValidationError(f"a token lasts 1 to {MAX_TOKEN_DAYS} days, not {days}",
                                  field="days")
        directory = self.app.directory()
        self.check_actor(actor, directory)
        directory.check_active(username)
        if actor.user_id != username:
            directory.check_role(actor.user_id, ("admin",), None, "issue tokens for others")
        token, token_id = secrets.token_urlsafe(32), secrets.token_hex(8)
        self.credentials.add_token(token, token_id, username, label or "api",
                                   clock.now() + timedelta(days=days))
        return token_id, token

    def revoke_api_token(self, actor: Actor, token_id: str) -> None:
        """Revoke a token (its owner or an administrator). At once: `user_for_token` reads
        the table on every request. Revoking a revoked token changes nothing."""
        owner = self.credentials.token_owner(token_id)
        self.check_admin_for(actor, owner, "revoke others' tokens")
        self.credentials.mark_revoked(token_id)

    def revoke_api_token_as_operator(self, token_id: str) -> str:
        """Revoke a token from the command line (`pmo-ledger tokens revoke`): whoever can
        write the database is trusted as an administrator is. Returns its owner."""
        owner = self.credentials.token_owner(token_id)
        self.credentials.mark_revoked(token_id)
        return owner

    def api_token_expiry(self, token_id: str) -> datetime | None:
        """When a token stops working (None: issued before tokens expired)."""
        return self.credentials.token_expiry(token_id)

    def api_token_owner(self, token_id: str) -> str:
        """The username a token id was issued to (revoked or not)."""
        return self.credentials.token_owner(token_id)

    def api_tokens(self, username: str | None = None) -> list[dict[str, Any]]:
        """Every token (or `username`'s): id, owner, label, expiry and status (active,
        expired or revoked); never the token, which is not stored."""
        return self.credentials.tokens(username, clock.now())

    def user_for_token(self, token: str) -> str | None:
        """The username a bearer token belongs to, or None (unknown, revoked, expired,
        deactivated)."""
        username = self.credentials.token_user(token, clock.now())
        if username is None:
            return None
        return username if self.app.reading_directory(lambda d: d.is_active(username)) else None


def _key_call(method: Callable[..., None], **kwargs: Any) -> None:
    """Call a key-ring command, turning the ledger's refusals into domain ones."""
    try:
        method(**kwargs)
    except (NotAuthorisedToRegisterKeysError, KeyRevokedError, KeyNotFoundError) as e:
        raise NotAuthorisedError(
            f"{e}; an administrator whose key may register keys must do this "
            "(re-issue the administrator's key if it predates their admin role)"
        ) from None
