"""Who may do what: the one command table.

Every command a person can give, with the roles that may give it, whether it is an
approving act (administrators approve nothing; nobody approves their own submission) and
the event types it may write. The services check commands against it
(`domain.handlers`), the compliance evaluator judges recorded events by it
(`domain.compliance.evaluator`), the web pages decide what to show by it (`web.auth`),
and the log verifier may read it: plain data, importable without Flask or a database.

    COMMANDS["approve_expenditure"].roles      -> ("fiscal", "sponsor")
    COMMANDS["approve_expenditure"].approving  -> True
    COMMANDS["approve_expenditure"].events     -> ("Project.ExpenditureApproved",)
    WRITERS["ExpenditureRejected"]             -> ("reject_expenditure",)

Event types are written `Aggregate.EventClass` (the class's qualified name, as the log's
topic ends). Roles:

- `roles` is a tuple of role names; one is enough.
- `policy_roles` names a rule of the policy in force that says the roles instead:
  "change_approver_role" (the change approver, default sponsor) or "gate_roles" (the
  roles a gate's review requires; the aggregate checks which one the actor signs in).
- `scope` is "project" (the role is held for that project or portfolio-wide) or
  "portfolio" (people, keys, policy).
- `consequences` are the event types among `events` that follow from the act rather than
  being acts of their own (a gate passes, and G4 closes the project, on the last
  sign-off): they need no role of their own and are no approval.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_ROLES = ("pm", "fiscal", "sponsor", "pmo", "auditor", "admin")


@dataclass(frozen=True)
class Command:
    name: str
    area: str  # the handler module that runs it (domain/handlers/<area>.py)
    action: str  # the words a refusal uses: "you may not <action>"
    roles: tuple[str, ...]
    events: tuple[str, ...]  # every event type it may write
    approving: bool = False
    policy_roles: str | None = None  # a rule of the policy that names the roles instead
    scope: str = "project"
    consequences: tuple[str, ...] = ()  # events that follow from the act (see above)


def _c(name: str, area: str, action: str, roles: tuple[str, ...], *events: str,
       approving: bool = False, policy_roles: str | None = None, scope: str = "project",
       consequences: tuple[str, ...] = ()) -> Command:
    return Command(name, area, action, roles, tuple(events), approving, policy_roles, scope,
                   consequences)


PM = ("pm",)
ADMIN = ("admin",)
_P = "Project."

COMMANDS: dict[str, Command] = {c.name: c for c in (
    # People, keys and credentials (administrators; key events are the ledger's KeyRing's).
    _c("enrol_person", "people", "administer people and keys", ADMIN,
       "Directory.PersonEnrolled", "KeyRing.KeyRegistered", scope="portfolio"),
    _c("grant_role", "people", "administer people and roles", ADMIN,
       "Directory.RoleGranted", "Directory.KeyReplaced", "KeyRing.KeyRevoked",
       "KeyRing.KeyRegistered", scope="portfolio"),
    _c("revoke_role", "people", "administer people and roles", ADMIN,
       "Directory.RoleRevoked", "Directory.KeyReplaced", "KeyRing.KeyRevoked",
       "KeyRing.KeyRegistered", scope="portfolio"),
    _c("reissue_key", "people", "administer people and keys", ADMIN,
       "Directory.KeyReplaced", "KeyRing.KeyRevoked", "KeyRing.KeyRegistered", scope="portfolio"),
    _c("deactivate_person", "people", "administer people and keys", ADMIN,
       "Directory.PersonDeactivated", "KeyRing.KeyRevoked", scope="portfolio"),
    _c("change_policy", "people", "change the approval policy", ("pmo",),
       "Policy.Changed", scope="portfolio"),
    # Charter and baseline, change requests.
    _c("charter_project", "baseline", "charter a project", PM, _P + "Chartered"),
    _c("amend_charter", "baseline", "amend the charter", PM, _P + "CharterAmended"),
    _c("add_deliverable", "baseline", "edit the baseline", PM, _P + "DeliverableAdded"),
    _c("remove_deliverable", "baseline", "edit the baseline", PM, _P + "DeliverableRemoved"),
    _c("add_budget_line", "baseline", "edit the baseline", PM, _P + "BudgetLineAdded"),
    _c("revise_budget_line", "baseline", "edit the baseline", PM, _P + "BudgetLineRevised"),
    _c("remove_budget_line", "baseline", "edit the baseline", PM, _P + "BudgetLineRemoved"),
    _c("add_milestone", "baseline", "edit the baseline", PM, _P + "MilestoneAdded"),
    _c("revise_milestone", "baseline", "edit the baseline", PM, _P + "MilestoneRevised"),
    _c("remove_milestone", "baseline", "edit the baseline", PM, _P + "MilestoneRemoved"),
    _c("submit_change_request", "baseline", "submit change requests", PM,
       _P + "ChangeRequestSubmitted"),
    _c("approve_change_request", "baseline", "approve change requests", (),
       _P + "ChangeRequestApproved", approving=True, policy_roles="change_approver_role"),
    _c("reject_change_request", "baseline", "reject change requests", (),
       _P + "ChangeRequestRejected", approving=True, policy_roles="change_approver_role"),
    _c("withdraw_change_request", "baseline", "withdraw change requests", PM,
       _P + "ChangeRequestWithdrawn"),
    # Gates and milestone acceptance.
    _c("request_gate_review", "gates", "request a gate review", PM, _P + "GateReviewRequested"),
    _c("sign_off_gate", "gates", "sign off gates", (),
       _P + "GateSignedOff", _P + "GatePassed", _P + "Closed",
       approving=True, policy_roles="gate_roles", consequences=(_P + "GatePassed", _P + "Closed")),
    _c("record_gate_conditions_met", "gates", "record gate conditions as met", ("pmo", "sponsor"),
       _P + "GateConditionsMet", approving=True),
    _c("report_progress", "gates", "report progress", PM, _P + "ProgressReported"),
    _c("accept_milestone", "gates", "accept milestones", ("sponsor",), _P + "MilestoneAccepted",
       approving=True),
    # Money: transfers, commitments, expenditures.
    _c("request_budget_transfer", "money", "request budget transfers", PM,
       _P + "BudgetTransferRequested"),
    _c("approve_budget_transfer", "money", "approve budget transfers", ("fiscal", "sponsor"),
       _P + "BudgetTransferApproved", approving=True),
    _c("reject_budget_transfer", "money", "reject budget transfers", ("fiscal",),
       _P + "BudgetTransferRejected", approving=True),
    _c("submit_commitment", "money", "submit commitments", PM, _P + "CommitmentSubmitted"),
    _c("approve_commitment", "money", "approve commitments", ("fiscal", "sponsor"),
       _P + "CommitmentApproved", approving=True),
    _c("reject_commitment", "money", "reject commitments", ("fiscal", "sponsor"),
       _P + "CommitmentRejected", approving=True),
    _c("close_commitment", "money", "close commitments", ("pm", "fiscal"), _P + "CommitmentClosed"),
    _c("release_commitment", "money", "release commitments", ("fiscal",), _P + "CommitmentReleased"),
    _c("submit_expenditure", "money", "submit expenditures", PM, _P + "ExpenditureSubmitted"),
    _c("approve_expenditure", "money", "approve expenditures", ("fiscal", "sponsor"),
       _P + "ExpenditureApproved", approving=True),
    _c("reject_expenditure", "money", "reject expenditures", ("fiscal", "sponsor"),
       _P + "ExpenditureRejected", approving=True),
    _c("reverse_expenditure", "money", "reverse expenditures", ("fiscal",),
       _P + "ExpenditureReversed", approving=True),
    # Risks, issues and status reports.
    _c("raise_risk", "records", "manage risks", PM, _P + "RiskRaised"),
    _c("update_risk", "records", "manage risks", PM, _P + "RiskUpdated"),
    _c("close_risk", "records", "manage risks", PM, _P + "RiskClosed"),
    _c("raise_issue", "records", "manage issues", PM, _P + "IssueRaised"),
    _c("escalate_issue", "records", "manage issues", PM, _P + "IssueEscalated"),
    _c("resolve_issue", "records", "manage issues", PM, _P + "IssueResolved"),
    _c("publish_status_report", "records", "publish status reports", PM,
       _P + "StatusReportPublished"),
)}

# Project event type (class name) -> the command that writes it. (People's key events are
# written by several commands; the project's each by one.)
WRITERS: dict[str, Command] = {
    event.split(".", 1)[1]: command for command in COMMANDS.values()
    for event in command.events if event.startswith("Project.")
}


def is_consequence(event_name: str) -> bool:
    """Whether project event `event_name` follows from another act (needs no role)."""
    command = WRITERS.get(event_name)
    return command is not None and f"Project.{event_name}" in command.consequences


def is_approval(event_name: str) -> bool:
    """Whether project event `event_name` records an approving act (approve, reject,
    reverse, sign off, accept): never by an administrator, never of one's own submission."""
    command = WRITERS.get(event_name)
    return command is not None and command.approving and not is_consequence(event_name)


# Which pages each role may open (web/auth.py): reading pages are open to every role; each
# role's own forms and queues follow the commands it may give.
def roles_giving(*commands: str) -> tuple[str, ...]:
    """Every role any of `commands` allows, in ALL_ROLES order."""
    wanted = {r for name in commands for r in COMMANDS[name].roles}
    return tuple(r for r in ALL_ROLES if r in wanted)


AREAS: dict[str, tuple[str, ...]] = {
    "view": ALL_ROLES,  # portfolio and project pages: reading
    "pm": roles_giving("submit_expenditure", "charter_project"),  # the project manager's forms
    "queue:fiscal": ("fiscal",),
    "queue:sponsor": ("sponsor",),
    "queue:pmo": ("pmo",),
    "audit": ("auditor",),  # the auditor's console
    "reports": ("pm", "fiscal", "sponsor", "pmo", "auditor"),
    "accept": roles_giving("accept_milestone"),  # milestone acceptance (UAT sign-off)
    "gate-conditions": roles_giving("record_gate_conditions_met"),
    "admin": roles_giving("enrol_person"),  # people, roles and signing keys
}
QUEUE_ROLES = ("fiscal", "sponsor", "pmo")
