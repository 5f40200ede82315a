"""The PMO application: every command a user can give, and the queries the edges need.

Each command is load -> decide -> save, signed by the acting person's key, and retried
from a fresh load when someone else changed the same record meanwhile. The decision is
made by one aggregate method; the service only adds what the aggregate cannot know by
itself: whether the actor holds the role at this moment (directory) and which rules are
in force now (policy). A refused command raises a `domain.errors` error and writes nothing.

Usage:

    app, root = init_ledger(url, passphrase, app_class=PMOApplication)
    admin = app.bootstrap(root, username="admin", name="Ada Admin", passphrase=passphrase)
    app.enrol_person(admin, username="pm", name="Pat Manager", passphrase=passphrase)
    app.grant_role(admin, "pm", "pm", reason="project manager")
    pm = app.actor("pm", passphrase)
    app.charter_project(pm, code="IT-2026-014", title=..., ...)

Several commands of one person on one project can run as one unit of work, loaded once and
saved once (see `PMOApplication.batch`):

    app.batch(fiscal, "IT-2026-014", lambda project: [
        app.approve_expenditure(fiscal, "IT-2026-014", e) for e in ("EXP-0007", "EXP-0008")])
"""

from __future__ import annotations

import hashlib
import random
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from domain import clock
from domain.common import Who
from domain.directory import DIRECTORY_ID, Directory
from domain.errors import (
    ConflictError,
    DuplicateError,
    NotAuthorisedError,
    NotFoundError,
    SegregationOfDutiesError,
    ValidationError,
)
from domain.policy import POLICY_ID, Policy, Rules
from domain.project import Project, project_id
from ledger.application import LedgerApplication
from ledger.errors import (
    KeyNotFoundError,
    KeyPassphraseError,
    KeyRevokedError,
    NotAuthorisedToRegisterKeysError,
    VersionConflictError,
)
from ledger.keyring import KEYRING_ID, KeyRing
from ledger.keys import Signer, configured_passphrase

T = TypeVar("T")

CREDENTIALS_TABLE = "pmo_credentials"
TOKENS_TABLE = "pmo_api_tokens"
TOKEN_DAYS = 90  # a bearer token's life unless asked otherwise
MAX_TOKEN_DAYS = 365
ROOT_ACTOR_ID = "ledger-root"


@dataclass(frozen=True)
class Actor:
    """The person giving a command: directory username, printed name, and their signer."""

    user_id: str
    name: str
    signer: Signer

    @property
    def who(self) -> Who:
        return Who(self.user_id, self.name)


@dataclass
class _Unit:
    """The aggregates one `PMOApplication.batch` holds while its commands run."""

    app: PMOApplication
    actor: Actor
    project_id: UUID
    code: str
    project: Project | None
    directory: Directory
    keyring: KeyRing
    policy: Policy

    def held(self) -> list[Aggregate]:
        return [a for a in (self.project, self.directory, self.keyring, self.policy) if a is not None]


# The batch running in this thread / task, if any (the web app serves requests in threads).
_UNIT: ContextVar[_Unit | None] = ContextVar("pmo_unit_of_work", default=None)


class PMOApplication(LedgerApplication):
    """Projects, people and policy on the signed ledger."""

    snapshotting_intervals = {
        **LedgerApplication.snapshotting_intervals, Project: 100, Directory: 50, Policy: 50,
    }
    # A conflict means another writer saved the same record first: load again and retry,
    # after a short random pause (writers in step would otherwise collide again). Sixteen
    # attempts with pauses growing to 50 ms ride out a burst of a dozen writers on one
    # project (tests/test_serve.py) within about half a second.
    max_attempts = 16
    # werkzeug's default (scrypt); tests may lower the cost.
    password_method = "scrypt"

    # How many aggregates a batch may leave loaded for the next one (see `batch`).
    warm_aggregates = 64

    def __init__(self, backend: Any, *, create_tables: bool = False) -> None:
        super().__init__(backend, create_tables=create_tables)
        self._warm: dict[UUID, Aggregate] = {}
        self._warm_lock = threading.Lock()
        self._side_tables_ready = False
        if create_tables:
            self.create_side_tables()

    # Side tables: credentials are not events -------------------------------------------

    def create_side_tables(self) -> None:
        """Create the password and API-token tables (idempotent; also done on first use)."""
        prefix = getattr(self.recorder, "schema_prefix", "")
        self.recorder.execute(
            f"CREATE TABLE IF NOT EXISTS {prefix}{CREDENTIALS_TABLE} "
            "(username TEXT PRIMARY KEY, password_hash TEXT NOT NULL)"
        )
        self.recorder.execute(
            f"CREATE TABLE IF NOT EXISTS {prefix}{TOKENS_TABLE} "
            "(token_hash TEXT PRIMARY KEY, token_id TEXT NOT NULL UNIQUE, "
            "username TEXT NOT NULL, label TEXT NOT NULL, revoked INTEGER NOT NULL, "
            "expires_at TEXT)"
        )
        self._add_token_expiry()
        self._side_tables_ready = True

    def _add_token_expiry(self) -> None:
        """A tokens table made before tokens expired gets the column (a side table, not
        the log: altering it is allowed). Its earlier tokens keep no expiry until revoked."""
        table = f"{getattr(self.recorder, 'schema_prefix', '')}{TOKENS_TABLE}"
        try:
            self.recorder.fetch(f"SELECT expires_at FROM {table} WHERE 1 = 0")
        except Exception:  # noqa: BLE001 - the column is missing (any driver's error)
            self.recorder.execute(f"ALTER TABLE {table} ADD COLUMN expires_at TEXT")

    def _table(self, name: str) -> str:
        if not self._side_tables_ready:
            self.create_side_tables()
        return f"{getattr(self.recorder, 'schema_prefix', '')}{name}"

    # Bootstrap and actors ----------------------------------------------------------------

    def bootstrap(
        self, root: Signer, *, username: str, name: str, passphrase: str,
        password: str | None = None, email: str = "",
    ) -> Actor:
        """Open the directory and the default policy and enrol the first administrator,
        all signed by the ledger root key. Once per ledger; returns the administrator."""
        if self._unit() is not None:
            raise RuntimeError("a ledger is not bootstrapped inside a batch")
        if self._exists(DIRECTORY_ID):
            raise DuplicateError("this ledger already has a directory; enrol people as an administrator")
        signer = Signer.generate(username)
        by = Who(ROOT_ACTOR_ID, "Ledger root key")
        directory = Directory.open(by=by)
        directory.enrol(username=username, name=name, email=email, key_id=signer.key_id, by=by,
                        reason="first administrator")
        directory.grant_role(username=username, role="admin", project=None, by=by,
                             reason="first administrator")
        ring = self.keyring()
        ring.register_key(
            key_id=signer.key_id, public_key=signer.public_bytes.hex(), owner=username,
            may_register_keys=True, by_key_id=root.key_id, actor_id=by.actor_id,
            actor_name=by.actor_name, reason=f"signing key for {username}",
        )
        policy = Policy.adopt(by=by)
        self.save(ring, directory, policy, signer=root)
        self.keystore.put(signer, passphrase)
        if password:
            self.set_password(username, password)
        return Actor(username, directory.person(username)["name"], signer)

    def actor(self, username: str, passphrase: str) -> Actor:
        """The Actor for `username`, with their held key; refused if deactivated or revoked."""
        person = self._reading_directory(lambda d: dict(d.check_active(username)))
        try:
            signer = self.signer_for(person["key_id"], passphrase)
        except (KeyRevokedError, KeyNotFoundError) as e:
            raise NotAuthorisedError(f"{person['name']} cannot sign: {e}") from None
        return Actor(username, person["name"], signer)

    # People, roles and keys (administrators) ---------------------------------------------

    def enrol_person(
        self, actor: Actor, *, username: str, name: str, passphrase: str,
        password: str | None = None, email: str = "", reason: str = "enrolled",
    ) -> str:
        """Enrol a person with a new signing key held by the server; returns the key id."""
        signer = Signer.generate(username)

        def decide() -> tuple[None, list[Aggregate]]:
            directory, ring = self._admin_context(actor)
            directory.enrol(username=username, name=name, email=email, key_id=signer.key_id,
                            by=actor.who, reason=reason)
            self._register_key(ring, actor, signer, username)
            return None, [ring, directory]

        self._retrying(actor, decide)
        self.keystore.put(signer, passphrase)
        if password:
            self.set_password(username, password)
        return signer.key_id

    def grant_role(
        self, actor: Actor, username: str, role: str, *, project: str | None = None,
        reason: str, passphrase: str | None = None,
    ) -> None:
        """Grant `role` globally (project=None) or for one project code.

        Granting `admin` also re-issues the person's signing key, in the same save: the
        new key is registered with key-management authority (it may register and revoke
        keys), signed by the granting administrator, and the old key is revoked. The new
        private key is held by the server encrypted under `passphrase` (default: the
        configured key passphrase, $PMO_LEDGER_PASSPHRASE); the person signs in again."""
        if role != "admin":
            self._on_directory(actor, lambda d: d.grant_role(
                username=username, role=role, project=project, by=actor.who, reason=reason))
            return
        self._change_admin(actor, username, passphrase, granted=True, change=lambda d: d.grant_role(
            username=username, role=role, project=project, by=actor.who, reason=reason))

    def revoke_role(
        self, actor: Actor, username: str, role: str, *, project: str | None = None,
        reason: str, passphrase: str | None = None,
    ) -> None:
        """Revoke a role; from this moment the person can no longer act in it.

        Revoking `admin` also re-issues the person's key without key-management authority
        (old key revoked, new one held under `passphrase` as for `grant_role`), so the key
        they held as an administrator can no longer register keys."""
        if role != "admin":
            self._on_directory(actor, lambda d: d.revoke_role(
                username=username, role=role, project=project, by=actor.who, reason=reason))
            return
        self._change_admin(actor, username, passphrase, granted=False, change=lambda d: d.revoke_role(
            username=username, role=role, project=project, by=actor.who, reason=reason))

    def _change_admin(self, actor: Actor, username: str, passphrase: str | None, *,
                      granted: bool, change: Callable[[Directory], None]) -> None:
        """Grant or revoke `admin` and re-issue the person's key to match, in one save."""
        signer = Signer.generate(username)
        what = "granted: the new key may register keys" if granted else \
            "revoked: the new key may not register keys"
        held_under: list[str] = []

        def decide() -> tuple[bool, list[Aggregate]]:
            directory, ring = self._admin_context(actor)
            change(directory)
            if not directory.is_active(username):
                return False, [directory]  # a leaver's key was revoked when they left
            held_under[:] = [self._key_passphrase(passphrase, "granting or revoking the admin role")]
            self._swap_key(directory, ring, actor, username, signer,
                           reason=f"admin role {what}", may_register=granted)
            return True, [directory, ring]

        if self._retrying(actor, decide):
            self.keystore.put(signer, held_under[0])

    def reissue_key(self, actor: Actor, username: str, *, passphrase: str, reason: str) -> str:
        """Revoke the person's current key and register a new one; returns the new key id.
        The new key may register keys when the person is an administrator."""
        signer = Signer.generate(username)

        def decide() -> tuple[None, list[Aggregate]]:
            directory, ring = self._admin_context(actor)
            self._swap_key(directory, ring, actor, username, signer, reason=reason,
                           may_register=directory.has_role(username, "admin"))
            return None, [directory, ring]

        self._retrying(actor, decide)
        self.keystore.put(signer, passphrase)
        return signer.key_id

    def _swap_key(self, directory: Directory, ring: KeyRing, actor: Actor, username: str,
                  signer: Signer, *, reason: str, may_register: bool) -> None:
        """Replace `username`'s key by `signer`'s: directory, revocation, registration."""
        if username == actor.user_id:
            # The command would be signed with the very key it revokes.
            raise SegregationOfDutiesError(
                "administrators cannot re-issue their own key; ask another administrator")
        old = directory.person(username)["key_id"]
        directory.replace_key(username=username, key_id=signer.key_id, by=actor.who, reason=reason)
        self._ledger_key_call(ring.revoke_key, key_id=old, by_key_id=actor.signer.key_id,
                              actor_id=actor.user_id, actor_name=actor.name, reason=reason)
        self._register_key(ring, actor, signer, username, may_register=may_register)

    @staticmethod
    def _key_passphrase(passphrase: str | None, action: str) -> str:
        try:
            return configured_passphrase(passphrase)
        except KeyPassphraseError:
            raise ValidationError(f"{action} re-issues a signing key held by the server: "
                                  "a key passphrase is needed", field="passphrase") from None

    def deactivate_person(self, actor: Actor, username: str, *, reason: str) -> None:
        """Deactivate a person (leaver): their key is revoked, they can no longer act."""

        def decide() -> tuple[None, list[Aggregate]]:
            directory, ring = self._admin_context(actor)
            key = directory.person(username)["key_id"]
            directory.deactivate(username=username, by=actor.who, reason=reason)
            self._ledger_key_call(ring.revoke_key, key_id=key, by_key_id=actor.signer.key_id,
                                  actor_id=actor.user_id, actor_name=actor.name, reason=reason)
            return None, [directory, ring]

        self._retrying(actor, decide)

    # Credentials (side table, hashed; never events) ---------------------------------------

    def set_password(self, username: str, password: str, *, actor: Actor | None = None) -> None:
        """Set a password. With an `actor`, only that person or an administrator may."""
        from werkzeug.security import generate_password_hash

        directory = self.directory()
        directory.person(username)
        if actor is not None and actor.user_id != username:
            self._check_actor(actor, directory)
            directory.check_role(actor.user_id, ("admin",), None, "set another person's password")
        if len(password) < 4:
            raise ValidationError("a password needs at least 4 characters", field="password")
        hashed = generate_password_hash(password, method=self.password_method)
        self.recorder.execute(
            f"INSERT INTO {self._table(CREDENTIALS_TABLE)} (username, password_hash) VALUES (?, ?) "
            "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash",
            (username, hashed),
        )

    def check_password(self, username: str, password: str) -> bool:
        """True when the password matches and the person is still active."""
        from werkzeug.security import check_password_hash

        rows = self.recorder.fetch(
            f"SELECT password_hash FROM {self._table(CREDENTIALS_TABLE)} WHERE username = ?",
            (username,),
        )
        if not rows or not check_password_hash(rows[0][0], password):
            return False
        return self.directory().is_active(username)

    def issue_api_token(self, actor: Actor, username: str, *, label: str,
                        days: int = TOKEN_DAYS) -> tuple[str, str]:
        """A new bearer token for `username` (self or, for an admin, anyone), valid for
        `days`: returns (token id, token). Only its SHA-256 is stored; the token is shown
        once."""
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise ValidationError(f"a token lasts 1 to {MAX_TOKEN_DAYS} days, not {days}",
                                  field="days")
        directory = self.directory()
        self._check_actor(actor, directory)
        directory.check_active(username)
        if actor.user_id != username:
            directory.check_role(actor.user_id, ("admin",), None, "issue tokens for others")
        token, token_id = secrets.token_urlsafe(32), secrets.token_hex(8)
        self.recorder.execute(
            f"INSERT INTO {self._table(TOKENS_TABLE)} "
            "(token_hash, token_id, username, label, revoked, expires_at) VALUES (?, ?, ?, ?, 0, ?)",
            (_sha256(token), token_id, username, label or "api",
             _instant_text(clock.now() + timedelta(days=days))),
        )
        return token_id, token

    def api_token_expiry(self, token_id: str) -> datetime | None:
        """When a token stops working (None: issued before tokens expired)."""
        rows = self.recorder.fetch(
            f"SELECT expires_at FROM {self._table(TOKENS_TABLE)} WHERE token_id = ?", (token_id,))
        if not rows:
            raise NotFoundError(f"no API token {token_id}")
        return datetime.fromisoformat(rows[0][0]) if rows[0][0] else None

    def api_token_owner(self, token_id: str) -> str:
        """The username a token id was issued to (revoked or not)."""
        rows = self.recorder.fetch(
            f"SELECT username FROM {self._table(TOKENS_TABLE)} WHERE token_id = ?", (token_id,))
        if not rows:
            raise NotFoundError(f"no API token {token_id}")
        return str(rows[0][0])

    def revoke_api_token(self, actor: Actor, token_id: str) -> None:
        """Revoke a token (its owner or an administrator). At once: `user_for_token` reads
        the table on every request. Revoking a revoked token changes nothing."""
        owner = self.api_token_owner(token_id)
        directory = self.directory()
        self._check_actor(actor, directory)
        if owner != actor.user_id:
            directory.check_role(actor.user_id, ("admin",), None, "revoke others' tokens")
        self._mark_token_revoked(token_id)

    def revoke_api_token_as_operator(self, token_id: str) -> str:
        """Revoke a token from the command line (`pmo-ledger tokens revoke`): whoever can
        write the database is trusted as an administrator is. Returns its owner."""
        owner = self.api_token_owner(token_id)
        self._mark_token_revoked(token_id)
        return owner

    def _mark_token_revoked(self, token_id: str) -> None:
        self.recorder.execute(
            f"UPDATE {self._table(TOKENS_TABLE)} SET revoked = 1 WHERE token_id = ?", (token_id,))

    def api_tokens(self, username: str | None = None) -> list[dict[str, Any]]:
        """Every token (or `username`'s): id, owner, label, expiry and status (active,
        expired or revoked); never the token, which is not stored."""
        where, params = ("WHERE username = ?", (username,)) if username is not None else ("", ())
        rows = self.recorder.fetch(
            f"SELECT token_id, username, label, revoked, expires_at FROM {self._table(TOKENS_TABLE)} "
            f"{where} ORDER BY username, expires_at, token_id", params)
        now = _instant_text(clock.now())
        out = []
        for token_id, owner, label, revoked, expires in rows:
            status = ("revoked" if revoked else
                      "expired" if expires is not None and expires <= now else "active")
            out.append({"token_id": str(token_id), "username": str(owner), "label": str(label),
                        "expires_at": datetime.fromisoformat(expires) if expires else None,
                        "status": status})
        return out

    def user_for_token(self, token: str) -> str | None:
        """The username a bearer token belongs to, or None (unknown, revoked, expired,
        deactivated)."""
        rows = self.recorder.fetch(
            f"SELECT username, revoked, expires_at FROM {self._table(TOKENS_TABLE)} "
            "WHERE token_hash = ?",
            (_sha256(token),),
        )
        if not rows or rows[0][1]:
            return None
        if rows[0][2] is not None and rows[0][2] <= _instant_text(clock.now()):
            return None  # one fixed-width UTC text format: compared as text
        return rows[0][0] if self._reading_directory(lambda d: d.is_active(rows[0][0])) else None

    # Policy ------------------------------------------------------------------------------

    def change_policy(self, actor: Actor, changes: dict[str, Any], *, reason: str) -> None:
        """Change approval rules (PMO lead). Keys: dual_fiscal_threshold, sponsor_threshold,
        gate_signoff_roles, change_approver_role, variance_green, variance_amber,
        pending_days_limit. Acts already recorded keep being judged by the old rules."""

        def decide() -> tuple[None, list[Aggregate]]:
            self._check_may(actor, ("pmo",), None, "change the approval policy")
            policy = self.policy()
            policy.change(changes=changes, by=actor.who, reason=reason)
            return None, [policy]

        self._retrying(actor, decide)

    # Projects: charter ----------------------------------------------------------------------

    def charter_project(
        self, actor: Actor, *, code: str, title: str, sponsor: str, project_manager: str,
        business_relationship_manager: str, objectives: Sequence[str], scope_statement: str,
        start_date: date, target_finish: date, fund: str, cost_centre: str,
        funding_type: str, currency: str = "USD",
    ) -> UUID:
        """Charter a new project (PM); `code` such as IT-2026-014 identifies it for ever.
        `funding_type` is "capital" or "operating"; returns the project id."""

        def decide() -> tuple[UUID, list[Aggregate]]:
            self._check_may(actor, ("pm",), code, "charter a project")
            if self._exists(project_id(code)):
                raise DuplicateError(f"project {code} already exists", field="code")
            project = Project.create(
                code=code, title=title, sponsor=sponsor, project_manager=project_manager,
                business_relationship_manager=business_relationship_manager,
                objectives=objectives, scope_statement=scope_statement,
                start_date=start_date, target_finish=target_finish, fund=fund,
                cost_centre=cost_centre, funding_type=funding_type, currency=currency,
                by=actor.who,
            )
            return project.id, [project]

        return self._retrying(actor, decide)

    def amend_charter(self, actor: Actor, code: str, changes: dict[str, Any], *, reason: str) -> None:
        """Amend charter fields (title, sponsor, objectives, target_finish...) with a reason."""
        self._on_project(actor, code, ("pm",), "amend the charter",
                         lambda p, by, _: p.amend_charter(changes=changes, by=by, reason=reason))

    # Baseline: deliverables, budget lines, milestones (free before G1, by CR after) --------

    def add_deliverable(self, actor: Actor, code: str, *, deliverable: str, name: str,
                        description: str = "") -> None:
        """Add a deliverable (e.g. D-01) to the baseline."""
        self._on_project(actor, code, ("pm",), "edit the baseline", lambda p, by, _: p.add_deliverable(
            deliverable=deliverable, name=name, description=description, by=by))

    def remove_deliverable(self, actor: Actor, code: str, deliverable: str, *, reason: str) -> None:
        """Remove a deliverable from the baseline (before G1 passes)."""
        self._on_project(actor, code, ("pm",), "edit the baseline", lambda p, by, _: p.remove_deliverable(
            deliverable=deliverable, by=by, reason=reason))

    def add_budget_line(self, actor: Actor, code: str, *, line: str, name: str, category: str,
                        amount: Decimal | str) -> None:
        """Add a budget line (e.g. HW-01). Category: labour, hardware, software,
        vendor services, training or contingency."""
        self._on_project(actor, code, ("pm",), "edit the baseline", lambda p, by, _: p.add_budget_line(
            line=line, name=name, category=category, amount=amount, by=by))

    def revise_budget_line(self, actor: Actor, code: str, line: str, *,
                           amount: Decimal | str | None = None, name: str | None = None,
                           category: str | None = None, reason: str = "baseline edit") -> None:
        """Change a line's amount, name or category (before G1 passes)."""
        self._on_project(actor, code, ("pm",), "edit the baseline", lambda p, by, _: p.revise_budget_line(
            line=line, amount=amount, name=name, category=category, by=by, reason=reason))

    def remove_budget_line(self, actor: Actor, code: str, line: str, *, reason: str) -> None:
        """Remove a line nothing has been committed, spent or transferred against."""
        self._on_project(actor, code, ("pm",), "edit the baseline", lambda p, by, _: p.remove_budget_line(
            line=line, by=by, reason=reason))

    def add_milestone(self, actor: Actor, code: str, *, milestone: str, name: str,
                      planned_start: date, planned_finish: date,
                      budgeted_value: Decimal | str) -> None:
        """Add a milestone / work package (e.g. M-01) with its planned dates and value."""
        self._on_project(actor, code, ("pm",), "edit the baseline", lambda p, by, _: p.add_milestone(
            milestone=milestone, name=name, planned_start=planned_start,
            planned_finish=planned_finish, budgeted_value=budgeted_value, by=by))

    def revise_milestone(self, actor: Actor, code: str, milestone: str, *, name: str | None = None,
                         planned_start: date | None = None, planned_finish: date | None = None,
                         budgeted_value: Decimal | str | None = None,
                         reason: str = "baseline edit") -> None:
        """Change a milestone's name, planned dates or budgeted value (before G1 passes)."""
        self._on_project(actor, code, ("pm",), "edit the baseline", lambda p, by, _: p.revise_milestone(
            milestone=milestone, name=name, planned_start=planned_start,
            planned_finish=planned_finish, budgeted_value=budgeted_value, by=by, reason=reason))

    def remove_milestone(self, actor: Actor, code: str, milestone: str, *, reason: str) -> None:
        """Remove a milestone with no progress reported (before G1 passes)."""
        self._on_project(actor, code, ("pm",), "edit the baseline", lambda p, by, _: p.remove_milestone(
            milestone=milestone, by=by, reason=reason))

    # Gates -------------------------------------------------------------------------------

    def request_gate_review(self, actor: Actor, code: str, gate: str, *,
                            artifacts: Sequence[dict[str, str]], note: str = "") -> None:
        """Ask for review of gate G0..G4 (PM); artifacts are {"name", "sha256"?, "uri"?}.
        The sign-off roles the policy requires now are fixed for this review round.
        G4 (closeout) is refused (`OpenItemsError`, code open-items) while a purchase
        order is open or anything awaits a decision; so is the sign-off that would pass it."""
        self._on_project(actor, code, ("pm",), "request a gate review", lambda p, by, rules: p.request_gate_review(
            gate=gate, artifacts=list(artifacts), note=note, required=rules.gate_roles(gate), by=by))

    def record_gate_conditions_met(self, actor: Actor, code: str, gate: str, *,
                                   conditions: Sequence[str], reason: str) -> None:
        """Record that conditions a gate passed with are met (PMO lead or sponsor, never the
        PM who requested the review), saying how in `reason`. Each condition is named
        exactly as it was set; one not set on that gate, or already met, is refused.
        Allowed after closeout (the conditions of G4 can only be met then)."""
        self._on_project(actor, code, ("pmo", "sponsor"), "record gate conditions as met",
                         lambda p, by, _: p.record_gate_conditions_met(
                             gate=gate, conditions=list(conditions), by=by, reason=reason),
                         approving=True)

    def sign_off_gate(self, actor: Actor, code: str, gate: str, *, decision: str,
                      conditions: str = "", reason: str = "", as_role: str | None = None) -> None:
        """Sign off a gate under review in one of the roles the policy required for it
        when the review was requested. decision: "approved", "approved-with-conditions"
        (conditions required) or "rejected" (reason required). The gate passes on the last
        required approval; G4 passing closes the project."""
        self._on_project(actor, code, None, "sign off gates", lambda p, by, _: p.sign_off_gate(
            gate=gate, decision=decision, conditions=conditions, reason=reason,
            as_role=as_role, by=by), approving=True)

    # Change requests -----------------------------------------------------------------------

    def submit_change_request(
        self, actor: Actor, code: str, *, title: str, description: str, justification: str,
        cost_impacts: Sequence[dict[str, Any]] = (),
        schedule_impacts: Sequence[dict[str, Any]] = (),
        scope_impact: str = "", deliverables: Sequence[dict[str, str]] = (),
    ) -> str:
        """Submit a change request; returns its id (CR-001...).
        cost_impacts: [{"line", "amount" (signed delta), "name"?, "category"? (new lines)}];
        schedule_impacts: [{"milestone", "planned_start"?, "planned_finish"?,
        "budgeted_value"?}]; deliverables: new deliverables [{"deliverable", "name"}]."""
        return self._on_project(actor, code, ("pm",), "submit change requests", lambda p, by, _: p.submit_change_request(
            title=title, description=description, justification=justification,
            cost_impacts=list(cost_impacts), schedule_impacts=list(schedule_impacts),
            scope_impact=scope_impact, deliverables=list(deliverables), by=by))

    def approve_change_request(self, actor: Actor, code: str, cr_id: str, *, reason: str = "") -> None:
        """Approve (the change approver role of the policy, default sponsor): applies the
        cost, schedule and scope impacts to the baseline."""
        self._on_project(actor, code, None, "approve change requests", lambda p, by, rules: p.approve_change_request(
            cr_id=cr_id, approver_role=rules.change_approver_role, by=by, reason=reason),
            approving=True, roles_from=lambda rules: (rules.change_approver_role,))

    def reject_change_request(self, actor: Actor, code: str, cr_id: str, *, reason: str) -> None:
        """Reject a pending change request, with a reason."""
        self._on_project(actor, code, None, "reject change requests", lambda p, by, rules: p.reject_change_request(
            cr_id=cr_id, by=by, reason=reason),
            approving=True, roles_from=lambda rules: (rules.change_approver_role,))

    def withdraw_change_request(self, actor: Actor, code: str, cr_id: str, *, reason: str) -> None:
        """Withdraw a pending change request (PM)."""
        self._on_project(actor, code, ("pm",), "withdraw change requests", lambda p, by, _: p.withdraw_change_request(
            cr_id=cr_id, by=by, reason=reason))

    # Budget transfers -----------------------------------------------------------------------

    def request_budget_transfer(self, actor: Actor, code: str, *, from_line: str, to_line: str,
                                amount: Decimal | str, reason: str) -> str:
        """Ask to move budget between two lines (PM); returns its id (TR-001...)."""
        return self._on_project(actor, code, ("pm",), "request budget transfers", lambda p, by, _: p.request_transfer(
            from_line=from_line, to_line=to_line, amount=amount, by=by, reason=reason))

    def approve_budget_transfer(self, actor: Actor, code: str, transfer_id: str, *, reason: str = "") -> None:
        """Approve a transfer (fiscal): refused if it exceeds the source line's available."""
        self._on_project(actor, code, ("fiscal",), "approve budget transfers", lambda p, by, _: p.approve_transfer(
            transfer_id=transfer_id, by=by, reason=reason), approving=True)

    def reject_budget_transfer(self, actor: Actor, code: str, transfer_id: str, *, reason: str) -> None:
        """Reject a pending transfer (fiscal), with a reason."""
        self._on_project(actor, code, ("fiscal",), "reject budget transfers", lambda p, by, _: p.reject_transfer(
            transfer_id=transfer_id, by=by, reason=reason), approving=True)

    # Commitments (purchase orders) -------------------------------------------------------------

    def submit_commitment(self, actor: Actor, code: str, *, po_number: str, vendor: str, line: str,
                          amount: Decimal | str, description: str = "") -> str:
        """Submit a purchase order / encumbrance for approval (PM); returns the PO number."""
        return self._on_project(actor, code, ("pm",), "submit commitments", lambda p, by, _: p.submit_commitment(
            po_number=po_number, vendor=vendor, line=line, amount=amount,
            description=description, by=by))

    def approve_commitment(self, actor: Actor, code: str, po_number: str, *, reason: str = "") -> None:
        """Approve a PO (fiscal; over the thresholds a second fiscal officer, then the
        sponsor). Refused if it would overdraw the line."""
        self._on_project(actor, code, ("fiscal", "sponsor"), "approve commitments", lambda p, by, rules: p.approve_commitment(
            po_number=po_number, rules=rules, by=by, reason=reason), approving=True)

    def reject_commitment(self, actor: Actor, code: str, po_number: str, *, reason: str) -> None:
        """Reject a pending PO (fiscal or sponsor), with a reason."""
        self._on_project(actor, code, ("fiscal", "sponsor"), "reject commitments", lambda p, by, _: p.reject_commitment(
            po_number=po_number, by=by, reason=reason), approving=True)

    def close_commitment(self, actor: Actor, code: str, po_number: str, *, reason: str) -> None:
        """Close an open PO as complete (PM or fiscal): its unliquidated rest is released."""
        self._on_project(actor, code, ("pm", "fiscal"), "close commitments", lambda p, by, _: p.close_commitment(
            po_number=po_number, by=by, reason=reason))

    def release_commitment(self, actor: Actor, code: str, po_number: str, *, reason: str) -> None:
        """Cancel an open PO (fiscal): the encumbrance is released back to the line."""
        self._on_project(actor, code, ("fiscal",), "release commitments", lambda p, by, _: p.release_commitment(
            po_number=po_number, by=by, reason=reason))

    # Expenditures ------------------------------------------------------------------------------

    def submit_expenditure(
        self, actor: Actor, code: str, *, line: str, amount: Decimal | str, vendor: str,
        invoice_number: str, invoice_date: date, description: str,
        po_number: str | None = None, document_sha256: str | None = None,
    ) -> str:
        """Submit an invoice for approval (PM); returns its id (EXP-0001...)."""
        return self._on_project(actor, code, ("pm",), "submit expenditures", lambda p, by, _: p.submit_expenditure(
            line=line, amount=amount, vendor=vendor, invoice_number=invoice_number,
            invoice_date=invoice_date, description=description, po_number=po_number,
            document_sha256=document_sha256, by=by))

    def approve_expenditure(self, actor: Actor, code: str, expenditure_id: str, *, reason: str = "") -> None:
        """Approve an expenditure (fiscal; over 25,000 two different fiscal officers; over
        100,000 then also the sponsor). Refused if it would overdraw the line."""
        self._on_project(actor, code, ("fiscal", "sponsor"), "approve expenditures", lambda p, by, rules: p.approve_expenditure(
            expenditure_id=expenditure_id, rules=rules, by=by, reason=reason), approving=True)

    def reject_expenditure(self, actor: Actor, code: str, expenditure_id: str, *, reason: str) -> None:
        """Reject a pending expenditure (fiscal or sponsor), with a reason."""
        self._on_project(actor, code, ("fiscal", "sponsor"), "reject expenditures", lambda p, by, _: p.reject_expenditure(
            expenditure_id=expenditure_id, by=by, reason=reason), approving=True)

    def reverse_expenditure(self, actor: Actor, code: str, expenditure_id: str, *, reason: str) -> None:
        """Reverse an approved expenditure (fiscal), with a reason; allowed on closed projects."""
        self._on_project(actor, code, ("fiscal",), "reverse expenditures", lambda p, by, _: p.reverse_expenditure(
            expenditure_id=expenditure_id, by=by, reason=reason), approving=True)

    # Progress, risks, issues, status -------------------------------------------------------------

    def report_progress(self, actor: Actor, code: str, milestone: str, *, percent: int,
                        as_of: date, note: str = "") -> None:
        """Percent complete (0..100) of a milestone as of a business date (PM)."""
        self._on_project(actor, code, ("pm",), "report progress", lambda p, by, _: p.report_progress(
            milestone=milestone, percent=percent, as_of=as_of, note=note, by=by))

    def accept_milestone(self, actor: Actor, code: str, milestone: str, *, accepted_on: date,
                         reason: str = "") -> None:
        """UAT sign-off of a milestone reported 100% complete (sponsor)."""
        self._on_project(actor, code, ("sponsor",), "accept milestones", lambda p, by, _: p.accept_milestone(
            milestone=milestone, accepted_on=accepted_on, by=by, reason=reason), approving=True)

    def raise_risk(self, actor: Actor, code: str, *, title: str, probability: int, impact: int,
                   owner: str, mitigation: str, description: str = "") -> str:
        """Record a risk (probability and impact 1..5); returns its id (R-001...)."""
        return self._on_project(actor, code, ("pm",), "manage risks", lambda p, by, _: p.raise_risk(
            title=title, probability=probability, impact=impact, owner=owner,
            mitigation=mitigation, description=description, by=by))

    def update_risk(self, actor: Actor, code: str, risk_id: str, *, reason: str,
                    probability: int | None = None, impact: int | None = None,
                    owner: str | None = None, mitigation: str | None = None,
                    status: str | None = None) -> None:
        """Reassess a risk; status: open, mitigating, occurred (closing uses close_risk)."""
        self._on_project(actor, code, ("pm",), "manage risks", lambda p, by, _: p.update_risk(
            risk_id=risk_id, probability=probability, impact=impact, owner=owner,
            mitigation=mitigation, status=status, by=by, reason=reason))

    def close_risk(self, actor: Actor, code: str, risk_id: str, *, reason: str) -> None:
        """Close a risk that no longer applies."""
        self._on_project(actor, code, ("pm",), "manage risks", lambda p, by, _: p.close_risk(
            risk_id=risk_id, by=by, reason=reason))

    def raise_issue(self, actor: Actor, code: str, *, title: str, description: str,
                    severity: str, owner: str) -> str:
        """Record an issue (severity low/medium/high/critical); returns its id (I-001...)."""
        return self._on_project(actor, code, ("pm",), "manage issues", lambda p, by, _: p.raise_issue(
            title=title, description=description, severity=severity, owner=owner, by=by))

    def escalate_issue(self, actor: Actor, code: str, issue_id: str, *, to: str, reason: str) -> None:
        """Escalate an open issue to a person or body (e.g. "sponsor", "change board")."""
        self._on_project(actor, code, ("pm",), "manage issues", lambda p, by, _: p.escalate_issue(
            issue_id=issue_id, to=to, by=by, reason=reason))

    def resolve_issue(self, actor: Actor, code: str, issue_id: str, *, resolution: str) -> None:
        """Resolve an issue, saying how."""
        self._on_project(actor, code, ("pm",), "manage issues", lambda p, by, _: p.resolve_issue(
            issue_id=issue_id, resolution=resolution, by=by))

    def publish_status_report(
        self, actor: Actor, code: str, *, period_start: date, period_end: date, overall: str,
        schedule: str, budget: str, scope: str, summary: str,
    ) -> str:
        """Publish a status report (RAG: green/amber/red); the budget and earned-value
        figures as of period_end are computed now and stored with it. Returns SR-001..."""
        return self._on_project(actor, code, ("pm",), "publish status reports", lambda p, by, _: p.publish_status_report(
            period_start=period_start, period_end=period_end, overall=overall,
            schedule=schedule, budget=budget, scope=scope, summary=summary, by=by))

    # Queries -------------------------------------------------------------------------------------

    def project(self, code: str, *, version: int | None = None) -> Project:
        """The project as it stands (or at an aggregate version). Inside a `batch` on this
        project: the project as the batch has left it so far."""
        unit = self._unit()
        if unit is not None and version is None and project_id(code) == unit.project_id:
            if unit.project is None:
                raise NotFoundError(f"no project {code}", field="code")
            return unit.project
        try:
            return self.repository.get(project_id(code), version=version)
        except AggregateNotFoundError:
            raise NotFoundError(f"no project {code}", field="code") from None

    def projects(self) -> list[Project]:
        """Every chartered project, ordered by code."""
        found = [self.repository.get(oid) for oid in self.originators_of_topic(Project.Chartered.TOPIC)]
        return sorted(found, key=lambda p: p.code)

    def directory(self) -> Directory:
        unit = self._unit()
        if unit is not None:
            return unit.directory
        try:
            return self.repository.get(DIRECTORY_ID)
        except AggregateNotFoundError:
            raise NotFoundError("this ledger has no directory yet: bootstrap an administrator") from None

    def _reading_directory(self, read: Callable[[Directory], T]) -> T:
        """`read(directory)` on the directory as stored now (it must not change it): the
        warm copy brought forward by any newer events, left warm again afterwards."""
        if self._unit() is not None:
            return read(self.directory())
        directory = self._take(DIRECTORY_ID)
        if directory is None:
            raise NotFoundError("this ledger has no directory yet: bootstrap an administrator")
        result = read(directory)  # type: ignore[arg-type]
        self._keep(directory)
        return result

    def person(self, username: str) -> dict[str, Any]:
        """A person's directory entry (name, email, key id, roles, active)."""
        return self.directory().person(username)

    def keyring(self) -> KeyRing:
        unit = self._unit()
        return unit.keyring if unit is not None else super().keyring()

    def policy(self) -> Policy:
        unit = self._unit()
        if unit is not None:
            return unit.policy
        try:
            return self.repository.get(POLICY_ID)
        except AggregateNotFoundError:
            raise NotFoundError("this ledger has no approval policy yet: bootstrap it") from None

    def rules(self, at: datetime | None = None) -> Rules:
        """The rules in force at UTC instant `at` (default: now, `domain.clock.now()`)."""
        return self.policy().rules(at or clock.now())

    # A unit of work: several commands, one load, one save --------------------------------------

    def batch(self, actor: Actor, code: str, work: Callable[[Project | None], T]) -> T:
        """Run several commands of `actor` on project `code` as one unit of work; returns
        what `work` returns.

        The project -- and the directory, key ring and policy the checks read -- are
        loaded once. `work(project)` calls the ordinary commands,
        `app.approve_expenditure(actor, code, ...)` and so on; each is checked exactly as
        on its own (the actor's key and roles now, segregation of duties, the policy in
        force, every rule of the project) against the project as the earlier commands of
        the batch left it, which is also what `app.project(code)` returns inside `work`.
        When `work` returns, all their events are saved at once, signed by `actor`: they
        enter the log together or not at all. `project` is None when the project does not
        exist yet (`work` may charter it).

        A refusal raised inside `work` propagates and nothing of the batch is written
        (a refusal `work` catches itself leaves the project as it was: commands check
        before they change anything). If someone else changed the project meanwhile, the
        whole batch runs again from a fresh load, up to `max_attempts` times (then
        `ConflictError`), so `work` must be safe to run again: take ids (EXP-0001...)
        from what the commands return, never assume them.

        Only project commands of `actor` on `code` may change anything inside: a command
        of another person, on another project, or on people, keys or the policy raises
        RuntimeError (and the batch writes nothing). Batches do not nest. What a batch loaded stays warm for the next one on the same aggregates
        (brought up to date with any newer events first), so a run of batches -- the demo
        seeder's thousands -- does not reload whole projects each time."""
        if _UNIT.get() is not None:
            raise RuntimeError("batches do not nest: finish the running batch first")
        pid = project_id(code)
        for attempt in range(self.max_attempts):
            directory, keyring, policy = (self._take(i) for i in (DIRECTORY_ID, KEYRING_ID, POLICY_ID))
            if directory is None or policy is None or keyring is None:
                raise NotFoundError("this ledger has no directory or policy yet: bootstrap it")
            unit = _Unit(self, actor, pid, code, self._take(pid), directory, keyring, policy)  # type: ignore[arg-type]
            token = _UNIT.set(unit)
            try:
                result = work(unit.project)
                if unit.project is not None and unit.project.pending_events:
                    self.save(unit.project, signer=actor.signer)
            except VersionConflictError:
                _pause(attempt)
                continue
            finally:
                _UNIT.reset(token)
            self._keep(*unit.held())
            return result
        raise ConflictError("others kept changing the same record; please try again")

    def _unit(self) -> _Unit | None:
        unit = _UNIT.get()
        return unit if unit is not None and unit.app is self else None

    def _absorb(self, unit: _Unit, actor: Actor, aggregates: list[Aggregate]) -> None:
        """A command inside a batch: keep its changes on the held project, unsaved."""
        if (actor.user_id, actor.signer.key_id) != (unit.actor.user_id, unit.actor.signer.key_id):
            raise RuntimeError(f"a batch of {unit.actor.user_id} cannot run commands of {actor.user_id}")
        for aggregate in aggregates:
            if isinstance(aggregate, Project) and aggregate.id == unit.project_id:
                if unit.project is None:
                    unit.project = aggregate  # chartered by this batch
                if aggregate is unit.project:
                    continue
            raise RuntimeError(f"a batch runs project commands on {unit.code} only; "
                               f"{type(aggregate).__name__} changes are saved on their own")

    def _take(self, aggregate_id: UUID) -> Aggregate | None:
        """The aggregate as stored now (None if it does not exist), owned by the caller:
        the warm copy a batch left, brought up to date, or a fresh load."""
        with self._warm_lock:
            aggregate = self._warm.pop(aggregate_id, None)
        if aggregate is not None:
            return self.bring_forward(aggregate)
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def bring_forward(self, aggregate: Aggregate) -> Aggregate:
        """`aggregate` with the events recorded after its version applied, in order, as a
        replay applies them (each checks it is the next version): the log is append-only,
        so a copy at version N is brought to the stored state by the events after N."""
        for event in self.repository.event_store.get(aggregate.id, gt=aggregate.version):
            aggregate = event.mutate(aggregate)
        return aggregate

    def _keep(self, *aggregates: Aggregate) -> None:
        """Leave aggregates a batch used warm for the next one (only as they are stored:
        an aggregate with unsaved events is dropped)."""
        with self._warm_lock:
            for aggregate in aggregates:
                self._warm.pop(aggregate.id, None)
                if not aggregate.pending_events:
                    self._warm[aggregate.id] = aggregate
            while len(self._warm) > self.warm_aggregates:
                del self._warm[next(iter(self._warm))]

    # Load -> decide -> save machinery -----------------------------------------------------------

    def _retrying(self, actor: Actor, decide: Callable[[], tuple[T, list[Aggregate]]]) -> T:
        """Run `decide` on fresh loads and save what it changed, signed by the actor;
        on a version conflict, start again from a fresh load. Inside a `batch`, `decide`
        runs once on the batch's aggregates and the batch saves."""
        unit = self._unit()
        if unit is not None:
            result, aggregates = decide()
            self._absorb(unit, actor, aggregates)
            return result
        for attempt in range(self.max_attempts):
            result, aggregates = decide()
            try:
                self.save(*aggregates, signer=actor.signer)
            except VersionConflictError:
                _pause(attempt)
                continue
            return result
        raise ConflictError("others kept changing the same record; please try again")

    def _on_project(
        self, actor: Actor, code: str, roles: Sequence[str] | None, action: str,
        decide: Callable[[Project, Who, Rules], T], *, approving: bool = False,
        roles_from: Callable[[Rules], Sequence[str]] | None = None,
    ) -> T:
        """Check the actor may act on project `code` now, then let the project decide.
        `roles=None` means any role (the aggregate checks which, e.g. gate sign-off)."""

        if self._unit() is not None:
            def in_batch() -> tuple[T, list[Aggregate]]:
                rules = self.rules()
                needed = roles_from(rules) if roles_from else roles
                who = self._check_may(actor, needed, code, action, approving=approving)
                project = self.project(code)
                return decide(project, who, rules), [project]

            return self._retrying(actor, in_batch)
        taken: list[Aggregate] = []

        def attempt() -> tuple[T, list[Aggregate]]:
            # Each attempt takes the aggregates as stored now: the copies the last command
            # left warm, brought forward by every newer event (one indexed read each), else
            # fresh loads -- the same state a load would give, checked and decided on the
            # latest events; a version conflict on save starts again from newer ones.
            taken.clear()
            policy, directory, keyring = self._take_context(taken)
            rules = policy.rules(clock.now())
            needed = roles_from(rules) if roles_from else roles
            who = self._who(actor, needed, code, action, approving, directory, keyring)
            project = self._take(project_id(code))
            if project is None:
                raise NotFoundError(f"no project {code}", field="code")
            taken.append(project)
            return decide(project, who, rules), [project]

        result = self._retrying(actor, attempt)
        # Saved: left warm for the next command (not after a refusal or a failed save:
        # an aggregate a command may have changed is never kept).
        self._keep(*taken)
        return result

    def _take_context(self, taken: list[Aggregate]) -> tuple[Policy, Directory, KeyRing]:
        """Policy, directory and key ring as stored now, for a command's checks only (they
        are read, never changed, and appended to `taken`)."""
        found = [self._take(i) for i in (POLICY_ID, DIRECTORY_ID, KEYRING_ID)]
        taken.extend(a for a in found if a is not None)
        policy, directory, keyring = found
        if policy is None:
            raise NotFoundError("this ledger has no approval policy yet: bootstrap it")
        if directory is None:
            raise NotFoundError("this ledger has no directory yet: bootstrap an administrator")
        if keyring is None:
            raise NotFoundError("this ledger has no key ring yet: bootstrap it")
        return policy, directory, keyring  # type: ignore[return-value]

    def _on_directory(self, actor: Actor, change: Callable[[Directory], None]) -> None:
        def attempt() -> tuple[None, list[Aggregate]]:
            directory = self.directory()
            self._check_actor(actor, directory)
            directory.check_role(actor.user_id, ("admin",), None, "administer people and roles")
            change(directory)
            return None, [directory]

        self._retrying(actor, attempt)

    def _check_may(
        self, actor: Actor, roles: Sequence[str] | None, project: str | None, action: str,
        *, approving: bool = False,
    ) -> Who:
        """The actor's Who (with the roles they hold for `project` now), after checking
        their key is theirs and valid and they hold one of `roles`; approvers must not
        be administrators."""
        return self._who(actor, roles, project, action, approving, self.directory(), self.keyring())

    def _who(self, actor: Actor, roles: Sequence[str] | None, project: str | None, action: str,
             approving: bool, directory: Directory, keyring: KeyRing) -> Who:
        self._check_actor(actor, directory, keyring)
        if roles is not None:
            directory.check_role(actor.user_id, tuple(roles), project, action)
        if approving:
            directory.check_not_admin(actor.user_id, project, action)
        held = tuple(directory.roles_of(actor.user_id, project))
        return Who(actor.user_id, actor.name, held)

    def _check_actor(self, actor: Actor, directory: Directory, keyring: KeyRing | None = None) -> None:
        directory.check_can_sign(actor.user_id, actor.signer.key_id)
        try:
            (keyring or self.keyring()).check_key_usable(actor.signer.key_id)
        except (KeyRevokedError, KeyNotFoundError) as e:
            raise NotAuthorisedError(f"{actor.name} cannot sign: {e}") from None

    def _admin_context(self, actor: Actor) -> tuple[Directory, KeyRing]:
        directory = self.directory()
        self._check_actor(actor, directory)
        directory.check_role(actor.user_id, ("admin",), None, "administer people and keys")
        return directory, self.keyring()

    def _register_key(self, ring: KeyRing, actor: Actor, signer: Signer, username: str,
                      may_register: bool = False) -> None:
        self._ledger_key_call(
            ring.register_key, key_id=signer.key_id, public_key=signer.public_bytes.hex(),
            owner=username, may_register_keys=may_register, by_key_id=actor.signer.key_id,
            actor_id=actor.user_id, actor_name=actor.name, reason=f"signing key for {username}",
        )

    @staticmethod
    def _ledger_key_call(method: Callable[..., None], **kwargs: Any) -> None:
        """Call a key-ring command, turning the ledger's refusals into domain ones."""
        try:
            method(**kwargs)
        except (NotAuthorisedToRegisterKeysError, KeyRevokedError, KeyNotFoundError) as e:
            raise NotAuthorisedError(
                f"{e}; an administrator whose key may register keys must do this "
                "(re-issue the administrator's key if it predates their admin role)"
            ) from None

    def _exists(self, aggregate_id: UUID) -> bool:
        unit = self._unit()
        if unit is not None and aggregate_id == unit.project_id:
            return unit.project is not None
        return self.has_events(aggregate_id)


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _instant_text(moment: datetime) -> str:
    """A UTC instant as fixed-width ISO 8601 text (so text order is time order)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


__all__ = ["Actor", "PMOApplication"]


def _pause(attempt: int) -> None:
    """Full-jitter backoff before retry `attempt + 1`: up to 1, 2, 4 ... 50 ms."""
    time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** attempt)))
