"""Named domain errors. Each has a stable `code` (for the API and the web) and a message
written for the person who acted: a fiscal officer, a PM, a sponsor.

A command that raises one of these has written nothing to the log.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every refusal the domain makes on purpose."""

    code = "domain-error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape the API returns: code, message and per-field errors."""
        errors = {self.field: [self.message]} if self.field else {}
        return {"code": self.code, "message": self.message, "errors": errors}


class ValidationError(DomainError):
    """An input is malformed or out of range (a negative amount, an unknown category...)."""

    code = "validation"


class NotFoundError(DomainError):
    """The project, line, expenditure, person... named does not exist."""

    code = "not-found"


class DuplicateError(DomainError):
    """Something with that identifier already exists (a project code, a PO number...)."""

    code = "duplicate"


class InvalidStateError(DomainError):
    """The item is not in a state that allows the action (approving a rejected invoice...)."""

    code = "invalid-state"


class NotAuthorisedError(DomainError):
    """The person does not hold the role the action needs at this moment (never granted,
    revoked, deactivated, or signing with a key that is not theirs or was revoked)."""

    code = "not-authorised"


class SegregationOfDutiesError(DomainError):
    """The same person would both submit and approve, or approve twice, or an
    administrator would approve."""

    code = "segregation-of-duties"


class ThresholdApprovalsError(DomainError):
    """The approvals an amount needs under the policy are missing or in the wrong order."""

    code = "threshold-approvals"


class WouldOverdrawError(DomainError):
    """The action would take a budget line below zero available."""

    code = "would-overdraw"


class GateOutOfOrderError(DomainError):
    """A gate review was requested before the previous gate passed."""

    code = "gate-out-of-order"


class BaselineLockedError(DomainError):
    """The baseline (deliverables, lines, milestones) changes only by change request after G1."""

    code = "baseline-locked"


class ProjectClosedError(DomainError):
    """The project passed G4 and accepts nothing but fiscal reversals."""

    code = "project-closed"


class OpenItemsError(DomainError):
    """Closeout was asked for while something would be left stuck: a purchase order still
    open, or an expenditure, purchase order, budget transfer or change request awaiting a
    decision. `details["items"]` lists them, one text each."""

    code = "open-items"


class ConflictError(DomainError):
    """Others kept changing the same record while this command retried; try again."""

    code = "conflict"
