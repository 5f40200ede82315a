"""The PMO application: every command a user can give, and the queries the edges need.

`PMOApplication` is a facade over the command handlers (domain/handlers/, one module per
area) and the credential store (domain/credentials.py). Each command is load -> one
aggregate method -> save, signed by the acting person's key, checked against the command
table (domain/commands.py) and retried from a fresh load when someone else changed the
same record meanwhile. A refused command raises a `domain.errors` error and writes nothing.

Usage:

    app, root = init_ledger(url, passphrase, app_class=PMOApplication)
    admin = app.bootstrap(root, username="admin", name="Ada Admin", passphrase=passphrase)
    app.enrol_person(admin, username="pm", name="Pat Manager", passphrase=passphrase)
    app.grant_role(admin, "pm", "pm", reason="project manager")
    pm = app.actor("pm", passphrase)
    app.charter_project(pm, code="IT-2026-014", title=..., ...)

Receipts: every write command takes `receipts=` (a list the caller owns) and appends one
`ledger.receipts.Receipt` per event it recorded; the handlers themselves
(`app.money.approve_expenditure(...)`) return `Done(value, receipts)`:

    got = []
    eid = app.submit_expenditure(pm, code, ..., receipts=got)   # got[0].position ...

Several commands of one person on one project can run as one unit of work, loaded once and
saved once (see `PMOApplication.batch`); the unit is passed to the commands explicitly:

    app.batch(fiscal, "IT-2026-014", lambda unit: [
        app.approve_expenditure(fiscal, "IT-2026-014", e, unit=unit) for e in ("EXP-0007", "EXP-0008")])
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError

from domain import clock
from domain.cache import AggregateCache
from domain.commands import COMMANDS
from domain.credentials import CREDENTIALS_TABLE, TOKENS_TABLE, CredentialStore
from domain.directory import DIRECTORY_ID, Directory
from domain.errors import ConflictError, NotFoundError
from domain.handlers.base import Actor, Done, UnitOfWork, pause
from domain.handlers.baseline import BaselineHandler
from domain.handlers.gates import GatesHandler
from domain.handlers.money import MoneyHandler
from domain.handlers.people import MAX_TOKEN_DAYS, ROOT_ACTOR_ID, TOKEN_DAYS, PeopleHandler
from domain.handlers.records import RecordsHandler
from domain.policy import POLICY_ID, Policy, Rules
from domain.project import Project, project_id
from ledger.application import LedgerApplication
from ledger.errors import VersionConflictError
from ledger.keyring import KEYRING_ID
from ledger.receipts import Receipt

T = TypeVar("T")

_HANDLERS = {"baseline": BaselineHandler, "money": MoneyHandler, "gates": GatesHandler,
             "records": RecordsHandler, "people": PeopleHandler}


def _command(area: str, name: str) -> Callable[..., Any]:
    """The facade's `name`: the handler's command, returning what it returned before and
    appending its receipts to `receipts` when the caller passes a list."""
    handler_method = getattr(_HANDLERS[area], name)

    @wraps(handler_method)
    def command(self: PMOApplication, *args: Any, receipts: list[Receipt] | None = None,
                **kwargs: Any) -> Any:
        done: Done = getattr(getattr(self, area), name)(*args, **kwargs)
        if receipts is not None:
            receipts.extend(done.receipts)
        return done.value

    return command


def _forward(area: str, name: str) -> Callable[..., Any]:
    """The facade's `name`: the handler's method as it is (no events, no receipts)."""
    handler_method = getattr(_HANDLERS[area], name)

    @wraps(handler_method)
    def forward(self: PMOApplication, *args: Any, **kwargs: Any) -> Any:
        return getattr(getattr(self, area), name)(*args, **kwargs)

    return forward


class PMOApplication(LedgerApplication):
    """Projects, people and policy on the signed ledger (see the module docstring)."""

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
    # How many aggregates each thread keeps for the next command or page (domain/cache.py).
    cached_aggregates = 256

    def __init__(self, backend: Any, *, create_tables: bool = False) -> None:
        super().__init__(backend, create_tables=create_tables)
        self.cache = AggregateCache(self, size=self.cached_aggregates)
        self.credentials = CredentialStore(self.side_store)
        self.baseline = BaselineHandler(self)
        self.money = MoneyHandler(self)
        self.gates = GatesHandler(self)
        self.records = RecordsHandler(self)
        self.people = PeopleHandler(self, self.credentials)
        if create_tables:
            self.create_side_tables()

    def create_side_tables(self) -> None:
        """Create the password and API-token tables (idempotent; also done on first use)."""
        self.credentials.create_tables()


    # The commands (domain/commands.py), by area --------------------------------------------

    enrol_person = _command("people", "enrol_person")
    grant_role = _command("people", "grant_role")
    revoke_role = _command("people", "revoke_role")
    reissue_key = _command("people", "reissue_key")
    deactivate_person = _command("people", "deactivate_person")
    change_policy = _command("people", "change_policy")

    charter_project = _command("baseline", "charter_project")
    amend_charter = _command("baseline", "amend_charter")
    add_deliverable = _command("baseline", "add_deliverable")
    remove_deliverable = _command("baseline", "remove_deliverable")
    add_budget_line = _command("baseline", "add_budget_line")
    revise_budget_line = _command("baseline", "revise_budget_line")
    remove_budget_line = _command("baseline", "remove_budget_line")
    add_milestone = _command("baseline", "add_milestone")
    revise_milestone = _command("baseline", "revise_milestone")
    remove_milestone = _command("baseline", "remove_milestone")
    submit_change_request = _command("baseline", "submit_change_request")
    approve_change_request = _command("baseline", "approve_change_request")
    reject_change_request = _command("baseline", "reject_change_request")
    withdraw_change_request = _command("baseline", "withdraw_change_request")

    request_gate_review = _command("gates", "request_gate_review")
    sign_off_gate = _command("gates", "sign_off_gate")
    record_gate_conditions_met = _command("gates", "record_gate_conditions_met")
    report_progress = _command("gates", "report_progress")
    accept_milestone = _command("gates", "accept_milestone")

    request_budget_transfer = _command("money", "request_budget_transfer")
    approve_budget_transfer = _command("money", "approve_budget_transfer")
    reject_budget_transfer = _command("money", "reject_budget_transfer")
    submit_commitment = _command("money", "submit_commitment")
    approve_commitment = _command("money", "approve_commitment")
    reject_commitment = _command("money", "reject_commitment")
    close_commitment = _command("money", "close_commitment")
    release_commitment = _command("money", "release_commitment")
    submit_expenditure = _command("money", "submit_expenditure")
    approve_expenditure = _command("money", "approve_expenditure")
    reject_expenditure = _command("money", "reject_expenditure")
    reverse_expenditure = _command("money", "reverse_expenditure")

    raise_risk = _command("records", "raise_risk")
    update_risk = _command("records", "update_risk")
    close_risk = _command("records", "close_risk")
    raise_issue = _command("records", "raise_issue")
    escalate_issue = _command("records", "escalate_issue")
    resolve_issue = _command("records", "resolve_issue")
    publish_status_report = _command("records", "publish_status_report")

    # Bootstrap, actors and credentials ------------------------------------------------------

    bootstrap = _forward("people", "bootstrap")
    actor = _forward("people", "actor")
    set_password = _forward("people", "set_password")
    check_password = _forward("people", "check_password")
    issue_api_token = _forward("people", "issue_api_token")
    api_token_expiry = _forward("people", "api_token_expiry")
    api_token_owner = _forward("people", "api_token_owner")
    revoke_api_token = _forward("people", "revoke_api_token")
    revoke_api_token_as_operator = _forward("people", "revoke_api_token_as_operator")
    api_tokens = _forward("people", "api_tokens")
    user_for_token = _forward("people", "user_for_token")

    # Queries -------------------------------------------------------------------------------

    def project(self, code: str, *, version: int | None = None) -> Project:
        """The project as stored (or at an aggregate version): a fresh load, the caller's."""
        try:
            return self.repository.get(project_id(code), version=version)
        except AggregateNotFoundError:
            raise NotFoundError(f"no project {code}", field="code") from None

    def projects(self) -> list[Project]:
        """Every chartered project, ordered by code."""
        found = [self.repository.get(oid) for oid in self.originators_of_topic(Project.Chartered.TOPIC)]
        return sorted(found, key=lambda p: p.code)

    def directory(self) -> Directory:
        """The directory as stored: a fresh load, the caller's."""
        try:
            return self.repository.get(DIRECTORY_ID)
        except AggregateNotFoundError:
            raise NotFoundError("this ledger has no directory yet: bootstrap an administrator") from None

    def reading_directory(self, read: Callable[[Directory], T]) -> T:
        """`read(directory)` on the directory as stored now (it must not change it): the
        cached copy brought forward by any newer events."""
        return read(self.cache.read(DIRECTORY_ID, self.directory))  # type: ignore[arg-type]

    def person(self, username: str) -> dict[str, Any]:
        """A person's directory entry (name, email, key id, roles, active)."""
        return self.directory().person(username)

    def policy(self) -> Policy:
        try:
            return self.repository.get(POLICY_ID)
        except AggregateNotFoundError:
            raise NotFoundError("this ledger has no approval policy yet: bootstrap it") from None

    def rules(self, at: datetime | None = None) -> Rules:
        """The rules in force at UTC instant `at` (default: now, `domain.clock.now()`)."""
        return self.policy().rules(at or clock.now())

    def bring_forward(self, aggregate: Any) -> Any:
        """`aggregate` with the events recorded after its version applied (domain/cache.py)."""
        return self.cache.bring_forward(aggregate)

    # A unit of work: several commands, one load, one save ----------------------------------

    def batch(self, actor: Actor, code: str, work: Callable[[UnitOfWork], T], *,
              receipts: list[Receipt] | None = None) -> T:
        """Run several commands of `actor` on project `code` as one unit of work; returns
        what `work` returns; the receipts of its one save go to `receipts` when given.

        The project -- and the directory, key ring and policy the checks read -- are
        loaded once into a `UnitOfWork`, which `work(unit)` passes to the ordinary
        commands (`app.approve_expenditure(actor, code, ..., unit=unit)`, or
        `unit.approve_expenditure(actor, code, ...)`). Each is checked exactly as on its
        own (the actor's key and roles, segregation of duties, the policy in force, every
        rule of the project) against the project as the earlier commands left it,
        `unit.current` (None until the project is chartered; `work` may charter it).
        When `work` returns, all their events are saved at once, signed by `actor`: they
        enter the log together or not at all.

        A refusal raised inside `work` propagates and nothing of the batch is written
        (a refusal `work` catches itself leaves the project as it was: commands check
        before they change anything). If someone else changed the project meanwhile, the
        whole batch runs again from a fresh load, up to `max_attempts` times (then
        `ConflictError`), so `work` must be safe to run again: take ids (EXP-0001...)
        from what the commands return, never assume them.

        Only project commands of `actor` on `code` may be given the unit: a command of
        another person, on another project, or on people, keys or the policy raises
        RuntimeError (and the batch writes nothing). What a batch loaded stays cached for
        the next one (brought up to date with any newer events first), so a run of
        batches -- the demo seeder's thousands -- does not reload whole projects."""
        pid = project_id(code)
        for attempt in range(self.max_attempts):
            directory, keyring, policy = (self.cache.take(i) for i in (DIRECTORY_ID, KEYRING_ID, POLICY_ID))
            if directory is None or policy is None or keyring is None:
                raise NotFoundError("this ledger has no directory or policy yet: bootstrap it")
            unit = UnitOfWork(self, actor, code, pid, self.cache.take(pid),  # type: ignore[arg-type]
                              directory, keyring, policy)  # type: ignore[arg-type]
            result = work(unit)
            if unit.current is not None and unit.current.pending_events:
                try:
                    unit.receipts = self.append(unit.current, signer=actor.signer)
                except VersionConflictError:
                    pause(attempt)
                    continue
            self.cache.keep(*unit.held())
            if receipts is not None:
                receipts.extend(unit.receipts)
            return result
        raise ConflictError("others kept changing the same record; please try again")


__all__ = ["COMMANDS", "CREDENTIALS_TABLE", "MAX_TOKEN_DAYS", "ROOT_ACTOR_ID", "TOKENS_TABLE",
           "TOKEN_DAYS", "Actor", "Done", "PMOApplication", "UnitOfWork"]
