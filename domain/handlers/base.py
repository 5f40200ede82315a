"""What every handler shares: the acting person, a command's result, the unit of work,
and load -> check -> decide -> save with retries.

A command is given the acting person, checked against the command table
(`domain.commands.COMMANDS`: roles, approving or not), decided by one aggregate method and
saved through the ledger's `append`, which returns one receipt per event recorded. On a
version conflict (someone else saved the same record first) it starts again from a fresh
load. A command given an explicit `unit` (a `UnitOfWork`, see `PMOApplication.batch`) is
decided on the unit's aggregates and left for the unit to save.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import clock
from domain.commands import COMMANDS, Command
from domain.common import Who
from domain.directory import DIRECTORY_ID, Directory
from domain.errors import ConflictError, NotAuthorisedError, NotFoundError
from domain.policy import POLICY_ID, Policy, Rules
from domain.project import Project, project_id
from ledger.errors import KeyNotFoundError, KeyRevokedError, VersionConflictError
from ledger.keyring import KEYRING_ID, KeyRing
from ledger.keys import Signer
from ledger.receipts import Receipt

if TYPE_CHECKING:
    from domain.services import PMOApplication

T = TypeVar("T")
Decision = tuple[T, list[Aggregate]]


@dataclass(frozen=True)
class Actor:
    """The person giving a command: directory username, printed name, and their signer."""

    user_id: str
    name: str
    signer: Signer

    @property
    def who(self) -> Who:
        return Who(self.user_id, self.name)


class Done(NamedTuple):
    """What a write command gives back: what it returned before (an id, or None) and the
    receipts of the events it recorded, in log order (empty inside a unit of work: the
    unit saves, and its `receipts` hold them then)."""

    value: Any
    receipts: list[Receipt]


@dataclass
class UnitOfWork:
    """Several commands of one person on one project: loaded once, saved once.

    Made by `PMOApplication.batch`, passed explicitly to the commands it runs (`unit=`), or
    used as the application itself: `unit.approve_expenditure(actor, code, ...)` is
    `app.approve_expenditure(actor, code, ..., unit=unit)`. `current` is the project as
    the unit's commands have left it so far (None until chartered); `receipts` fills when
    the unit is saved."""

    app: PMOApplication
    actor: Actor
    code: str
    project_id: UUID
    current: Project | None
    directory: Directory
    keyring: KeyRing
    policy: Policy
    receipts: list[Receipt] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        if name in COMMANDS:
            return partial(getattr(self.app, name), unit=self)
        raise AttributeError(name)

    def project(self, code: str) -> Project:
        """The unit's project as its commands have left it (only its own project)."""
        self.check_project(code)
        if self.current is None:
            raise NotFoundError(f"no project {code}", field="code")
        return self.current

    def rules(self, at: Any = None) -> Rules:
        return self.policy.rules(at or clock.now())

    def held(self) -> list[Aggregate]:
        return [a for a in (self.current, self.directory, self.keyring, self.policy) if a is not None]

    def check_actor(self, actor: Actor) -> None:
        if (actor.user_id, actor.signer.key_id) != (self.actor.user_id, self.actor.signer.key_id):
            raise RuntimeError(f"a batch of {self.actor.user_id} cannot run commands of {actor.user_id}")

    def check_project(self, code: str) -> None:
        if project_id(code) != self.project_id:
            raise RuntimeError(f"a batch runs project commands on {self.code} only, not {code}")

    def absorb(self, actor: Actor, aggregates: list[Aggregate]) -> None:
        """A command inside the unit: keep its changes on the held project, unsaved."""
        self.check_actor(actor)
        for aggregate in aggregates:
            if isinstance(aggregate, Project) and aggregate.id == self.project_id:
                if self.current is None:
                    self.current = aggregate  # chartered by this unit
                if aggregate is self.current:
                    continue
            raise RuntimeError(f"a batch runs project commands on {self.code} only; "
                               f"{type(aggregate).__name__} changes are saved on their own")


class Handler:
    """The machinery of one area's commands (see the module docstring)."""

    def __init__(self, app: PMOApplication) -> None:
        self.app = app
        self.cache = app.cache

    # Saving ------------------------------------------------------------------------------

    def run(self, actor: Actor, decide: Callable[[], Decision], unit: UnitOfWork | None) -> Done:
        """`decide()` on fresh loads, then save what it changed signed by the actor; on a
        version conflict start again. With a `unit`, decide once and leave it to the unit."""
        if unit is not None:
            unit.check_actor(actor)
            value, aggregates = decide()
            unit.absorb(actor, aggregates)
            return Done(value, [])
        for attempt in range(self.app.max_attempts):
            value, aggregates = decide()
            try:
                receipts = self.app.append(*aggregates, signer=actor.signer)
            except VersionConflictError:
                pause(attempt)
                continue
            return Done(value, receipts)
        raise ConflictError("others kept changing the same record; please try again")

    def on_project(self, name: str, actor: Actor, code: str,
                   decide: Callable[[Project, Who, Rules], Any], unit: UnitOfWork | None) -> Done:
        """Command `name` on project `code`: check the actor may give it now (the command
        table, the directory, the key ring, the policy in force), then let the project
        decide. The aggregates used are left in the cache for the next command."""
        command = COMMANDS[name]
        taken: list[Aggregate] = []

        def attempt() -> Decision:
            # Each attempt takes the aggregates as stored now (the cached copies brought
            # forward, else fresh loads); a conflict on save starts again from newer ones.
            taken.clear()
            if unit is not None:
                unit.check_project(code)
                policy, directory, keyring = unit.policy, unit.directory, unit.keyring
            else:
                policy, directory, keyring = self.take_context(taken)
            rules = policy.rules(clock.now())
            who = self.check_may(actor, command, code, rules, directory, keyring)
            project = unit.project(code) if unit is not None else self.cache.take(project_id(code))
            if project is None:
                raise NotFoundError(f"no project {code}", field="code")
            taken.append(project)
            return decide(project, who, rules), [project]

        done = self.run(actor, attempt, unit)
        if unit is None:
            # Saved: left for the next command (never after a refusal or a failed save:
            # an aggregate a command may have changed is not kept).
            self.cache.keep(*taken)
        return done

    def take_context(self, taken: list[Aggregate]) -> tuple[Policy, Directory, KeyRing]:
        """Policy, directory and key ring as stored now, for a command's checks only."""
        found = [self.cache.take(i) for i in (POLICY_ID, DIRECTORY_ID, KEYRING_ID)]
        taken.extend(a for a in found if a is not None)
        policy, directory, keyring = found
        if policy is None:
            raise NotFoundError("this ledger has no approval policy yet: bootstrap it")
        if directory is None:
            raise NotFoundError("this ledger has no directory yet: bootstrap an administrator")
        if keyring is None:
            raise NotFoundError("this ledger has no key ring yet: bootstrap it")
        return policy, directory, keyring  # type: ignore[return-value]

    # Checks ------------------------------------------------------------------------------

    def check_may(self, actor: Actor, command: Command, code: str | None, rules: Rules | None,
                  directory: Directory, keyring: KeyRing) -> Who:
        """The actor's Who (with the roles they hold for `code` now), after checking their
        key is theirs and valid, they hold a role the command table allows (or the policy
        names), and, for an approving act, that they are no administrator."""
        project = code if command.scope == "project" else None
        self.check_actor(actor, directory, keyring)
        roles = self.roles_for(command, rules)
        if roles is not None:
            directory.check_role(actor.user_id, roles, project, command.action)
        if command.approving:
            directory.check_not_admin(actor.user_id, project, command.action)
        return Who(actor.user_id, actor.name, tuple(directory.roles_of(actor.user_id, project)))

    @staticmethod
    def roles_for(command: Command, rules: Rules | None) -> tuple[str, ...] | None:
        """The roles that may give `command` under `rules` (None: the aggregate decides,
        as a gate sign-off checks the roles its review requires)."""
        if command.policy_roles == "change_approver_role":
            assert rules is not None, f"{command.name} needs the rules in force"
            return (rules.change_approver_role,)
        if command.policy_roles == "gate_roles":
            return None
        return command.roles

    def check_actor(self, actor: Actor, directory: Directory, keyring: KeyRing | None = None) -> None:
        """The actor signs with their own registered key, which is still valid."""
        directory.check_can_sign(actor.user_id, actor.signer.key_id)
        try:
            (keyring or self.app.keyring()).check_key_usable(actor.signer.key_id)
        except (KeyRevokedError, KeyNotFoundError) as e:
            raise NotAuthorisedError(f"{actor.name} cannot sign: {e}") from None


def pause(attempt: int) -> None:
    """Full-jitter backoff before retry `attempt + 1`: up to 1, 2, 4 ... 50 ms."""
    time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** attempt)))
