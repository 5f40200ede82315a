"""Money: budget transfers, purchase orders (commitments) and expenditures, with the approvals the thresholds call for."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain import validate as v
from domain.common import (
    APPROVAL,
    AUTHORSHIP,
    RESPONSIBILITY,
    REVIEW,
    Who,
    reason_text,
    text,
)
from domain.errors import (
    DuplicateError,
    NotAuthorisedError,
    SegregationOfDutiesError,
    ThresholdApprovalsError,
    ValidationError,
)
from domain.money import ZERO, fmt, positive
from domain.policy import Rules


class MoneyCommands:
    """Commands of the project aggregate (domain.project.Project)."""

    # Budget transfers ----------------------------------------------------------------------

    def request_transfer(self, *, from_line: str, to_line: str, amount: Any, by: Who,
                         reason: str) -> str:
        self.check_open()
        self.line(from_line)
        self.line(to_line)
        if from_line == to_line:
            raise ValidationError("a transfer needs two different lines", field="to_line")
        amount = positive(amount)
        self.check_can_draw(from_line, amount, "this transfer")
        transfer_id = f"TR-{len(self.transfers) + 1:03d}"
        self.trigger_event(self.BudgetTransferRequested, transfer_id=transfer_id,
                           from_line=from_line, to_line=to_line, amount=amount,
                           reason=reason_text(reason), **by.signed(AUTHORSHIP))
        return transfer_id

    def approve_transfer(self, *, transfer_id: str, rules: Rules, by: Who, reason: str) -> None:
        """The thresholds of expenditures apply: over the dual threshold two fiscal
        officers approve, over the sponsor threshold the sponsor after them."""
        self.check_open()
        t = self.transfer(transfer_id)
        self.check_status(t, ("pending",), f"transfer {transfer_id}")
        self.check_not_submitter(t, "requested_by", by, f"approve transfer {transfer_id}")
        role, completes = self._approval_step(t, rules, by)
        self.check_can_draw(t["from_line"], t["amount"], "this transfer")
        self.trigger_event(self.BudgetTransferApproved, transfer_id=transfer_id, role=role,
                           reason=text(reason, "reason", required=False),
                           completes_approval=completes, **by.signed(APPROVAL))

    def reject_transfer(self, *, transfer_id: str, by: Who, reason: str) -> None:
        self.check_open()
        t = self.transfer(transfer_id)
        self.check_status(t, ("pending",), f"transfer {transfer_id}")
        self.check_not_submitter(t, "requested_by", by, f"reject transfer {transfer_id}")
        self.trigger_event(self.BudgetTransferRejected, transfer_id=transfer_id,
                           reason=reason_text(reason), **by.signed(REVIEW))

    # Approvals shared by transfers, commitments and expenditures ---------------------------

    def _approval_step(self, item: dict[str, Any], rules: Rules, by: Who) -> tuple[str, bool]:
        """(role this approval counts as, whether it completes the approvals needed).

        Up to the dual threshold one fiscal officer approves; above it two different
        fiscal officers; above the sponsor threshold the sponsor approves after them."""
        if any(a["actor_id"] == by.actor_id for a in item["approvals"]):
            raise SegregationOfDutiesError(
                f"{by.actor_name} already approved this; the next approval must come from a different person")
        amount = item["amount"]
        fiscal_needed = rules.fiscal_approvals_needed(amount)
        fiscal_done = sum(1 for a in item["approvals"] if a["role"] == "fiscal")
        sponsor_needed = rules.sponsor_needed(amount)
        if fiscal_done >= fiscal_needed and sponsor_needed:
            role = self._sponsor_turn(amount, rules, by)
        else:
            # Also when a policy change lowered the threshold while this waited: the next
            # fiscal approval then completes it.
            role = self._fiscal_turn(amount, fiscal_needed, fiscal_done, sponsor_needed, by)
            fiscal_done += 1
        return role, fiscal_done >= fiscal_needed and (not sponsor_needed or role == "sponsor")

    @staticmethod
    def _fiscal_turn(amount: Decimal, needed: int, done: int, sponsor_needed: bool, by: Who) -> str:
        if "fiscal" in by.roles:
            return "fiscal"
        if sponsor_needed and "sponsor" in by.roles:
            raise ThresholdApprovalsError(
                f"{fmt(amount)} needs {needed} fiscal approval(s) before the sponsor's; "
                f"{done} given so far")
        raise NotAuthorisedError(f"{by.actor_name} may not approve this: it needs a fiscal officer")

    @staticmethod
    def _sponsor_turn(amount: Decimal, rules: Rules, by: Who) -> str:
        if "sponsor" in by.roles:
            return "sponsor"
        raise ThresholdApprovalsError(
            f"the fiscal approvals are complete; {fmt(amount)} is over "
            f"{fmt(rules.sponsor_threshold)} and now needs the sponsor's approval")

    # Commitments ---------------------------------------------------------------------------

    def submit_commitment(self, *, po_number: str, vendor: str, line: str, amount: Any,
                          description: str, by: Who) -> str:
        self.check_open()
        po = v.code(po_number, "po_number")
        if po in self.commitments:
            raise DuplicateError(f"purchase order {po} already exists on {self.code}", field="po_number")
        self.line(line)
        self.trigger_event(self.CommitmentSubmitted, po_number=po,
                           vendor=text(vendor, "vendor", limit=200), line=line,
                           amount=positive(amount),
                           description=text(description, "description", required=False),
                           **by.signed(AUTHORSHIP))
        return po

    def approve_commitment(self, *, po_number: str, rules: Rules, by: Who, reason: str) -> None:
        self.check_open()
        c = self.commitment(po_number)
        self.check_status(c, ("pending",), f"purchase order {po_number}")
        self.check_not_submitter(c, "submitted_by", by, f"approve purchase order {po_number}")
        role, completes = self._approval_step(c, rules, by)
        self.check_can_draw(c["line"], c["amount"], "approval")
        self.trigger_event(self.CommitmentApproved, po_number=po_number, role=role,
                           reason=text(reason, "reason", required=False),
                           completes_approval=completes, **by.signed(APPROVAL))

    def reject_commitment(self, *, po_number: str, by: Who, reason: str) -> None:
        self.check_open()
        c = self.commitment(po_number)
        self.check_status(c, ("pending",), f"purchase order {po_number}")
        self.check_not_submitter(c, "submitted_by", by, f"reject purchase order {po_number}")
        self.trigger_event(self.CommitmentRejected, po_number=po_number,
                           reason=reason_text(reason), **by.signed(REVIEW))

    def close_commitment(self, *, po_number: str, by: Who, reason: str) -> None:
        self.check_open()
        c = self.commitment(po_number)
        self.check_status(c, ("open",), f"purchase order {po_number}")
        self.trigger_event(self.CommitmentClosed, po_number=po_number, released=c["remaining"],
                           reason=reason_text(reason), **by.signed(RESPONSIBILITY))

    def release_commitment(self, *, po_number: str, by: Who, reason: str) -> None:
        self.check_open()
        c = self.commitment(po_number)
        self.check_status(c, ("open",), f"purchase order {po_number}")
        self.trigger_event(self.CommitmentReleased, po_number=po_number, released=c["remaining"],
                           reason=reason_text(reason), **by.signed(RESPONSIBILITY))

    def end_commitment(self, po_number: str, status: str, released: Decimal, event: Any) -> None:
        """Called by CommitmentClosed/Released.apply: the rest goes back to the line."""
        c = self.commitments[po_number]
        c.update(status=status, remaining=ZERO, released=released, decided_by=event.actor_id,
                 reason=event.reason)
        self.lines[c["line"]]["committed"] -= released

    def move_commitment(self, po_number: str, delta: Decimal) -> None:
        """Called by expenditure events: liquidate (delta < 0) or restore an open PO."""
        c = self.commitments[po_number]
        c["remaining"] += delta
        c["liquidated"] -= delta
        self.lines[c["line"]]["committed"] += delta

    # Expenditures --------------------------------------------------------------------------

    def submit_expenditure(self, *, line: str, amount: Any, vendor: str, invoice_number: str,
                           invoice_date: Any, description: str, po_number: str | None,
                           document_sha256: str | None, by: Who) -> str:
        self.check_open()
        self.line(line)
        vendor = text(vendor, "vendor", limit=200)
        invoice = text(invoice_number, "invoice_number", limit=60)
        self.check_invoice_unique(vendor, invoice)
        po = self._cited_po(po_number, line)
        expenditure_id = f"EXP-{len(self.expenditures) + 1:04d}"
        self.trigger_event(
            self.ExpenditureSubmitted, expenditure_id=expenditure_id, line=line,
            amount=positive(amount), vendor=vendor, invoice_number=invoice,
            invoice_date=v.day(invoice_date, "invoice_date"),
            description=text(description, "description"), po_number=po,
            document_sha256=v.sha256(document_sha256, "document_sha256"), **by.signed(AUTHORSHIP))
        return expenditure_id

    def check_invoice_unique(self, vendor: str, invoice: str) -> None:
        """The same vendor invoice must not be paid twice."""
        wanted = (v.match_key(vendor), v.match_key(invoice))
        for key, e in self.expenditures.items():
            same = (v.match_key(e["vendor"]), v.match_key(e["invoice_number"])) == wanted
            if same and e["status"] != "rejected":
                raise DuplicateError(f"invoice {invoice} of {vendor} is already recorded as {key}",
                                     field="invoice_number")

    def _cited_po(self, po_number: str | None, line: str) -> str | None:
        if po_number in (None, ""):
            return None
        c = self.commitment(po_number)  # type: ignore[arg-type]
        self.check_status(c, ("open",), f"purchase order {po_number}")
        if c["line"] != line:
            raise ValidationError(f"purchase order {po_number} is on line {c['line']}, not {line}",
                                  field="po_number")
        return po_number

    def approve_expenditure(self, *, expenditure_id: str, rules: Rules, by: Who, reason: str) -> None:
        self.check_open()
        e = self.expenditure(expenditure_id)
        self.check_status(e, ("pending",), f"expenditure {expenditure_id}")
        self.check_not_submitter(e, "submitted_by", by, f"approve {expenditure_id}")
        role, completes = self._approval_step(e, rules, by)
        liquidates = self._liquidation(e)
        self.check_can_draw(e["line"], e["amount"] - liquidates, "approval")
        self.trigger_event(self.ExpenditureApproved, expenditure_id=expenditure_id, role=role,
                           reason=text(reason, "reason", required=False),
                           completes_approval=completes,
                           liquidates=liquidates if completes else ZERO, **by.signed(APPROVAL))

    def _liquidation(self, e: dict[str, Any]) -> Decimal:
        """How much of the cited PO this invoice uses up (only while the PO is open)."""
        if not e["po_number"]:
            return ZERO
        c = self.commitments[e["po_number"]]
        return min(e["amount"], c["remaining"]) if c["status"] == "open" else ZERO

    def reject_expenditure(self, *, expenditure_id: str, by: Who, reason: str) -> None:
        self.check_open()
        e = self.expenditure(expenditure_id)
        self.check_status(e, ("pending",), f"expenditure {expenditure_id}")
        self.check_not_submitter(e, "submitted_by", by, f"reject {expenditure_id}")
        self.trigger_event(self.ExpenditureRejected, expenditure_id=expenditure_id,
                           reason=reason_text(reason), **by.signed(REVIEW))

    def reverse_expenditure(self, *, expenditure_id: str, by: Who, reason: str) -> None:
        # Deliberately no check_open(): corrections stay possible after closeout.
        e = self.expenditure(expenditure_id)
        self.check_status(e, ("approved",), f"expenditure {expenditure_id}")
        self.check_not_submitter(e, "submitted_by", by, f"reverse {expenditure_id}")
        po = self.commitments.get(e["po_number"] or "")
        restores = e["liquidated"] if po is not None and po["status"] == "open" else ZERO
        self.trigger_event(self.ExpenditureReversed, expenditure_id=expenditure_id,
                           reason=reason_text(reason), restores=restores,
                           **by.signed(RESPONSIBILITY))
