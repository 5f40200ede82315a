"""Budget transfers, commitments (purchase orders) and expenditures.

Approvals are judged by the policy in force (two fiscal officers over one threshold, the
sponsor too over another) and refused when they would overdraw a line
(available = budget - approved expenditures - open commitments)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.handlers.base import Actor, Done, Handler, UnitOfWork


class MoneyHandler(Handler):
    """Transfer, commitment and expenditure commands."""

    # Budget transfers ----------------------------------------------------------------------

    def request_budget_transfer(self, actor: Actor, code: str, *, from_line: str, to_line: str,
                                amount: Decimal | str, reason: str,
                                unit: UnitOfWork | None = None) -> Done:
        """Ask to move budget between two lines (PM); returns its id (TR-001...)."""
        return self.on_project("request_budget_transfer", actor, code, lambda p, by, _: p.request_transfer(
            from_line=from_line, to_line=to_line, amount=amount, by=by, reason=reason), unit)

    def approve_budget_transfer(self, actor: Actor, code: str, transfer_id: str, *, reason: str = "",
                                unit: UnitOfWork | None = None) -> Done:
        """Approve a transfer (fiscal; two over the dual threshold, then the sponsor over the
        sponsor threshold): refused if it exceeds the source line's available."""
        return self.on_project("approve_budget_transfer", actor, code, lambda p, by, rules: p.approve_transfer(
            transfer_id=transfer_id, rules=rules, by=by, reason=reason), unit)

    def reject_budget_transfer(self, actor: Actor, code: str, transfer_id: str, *, reason: str,
                               unit: UnitOfWork | None = None) -> Done:
        """Reject a pending transfer (fiscal), with a reason."""
        return self.on_project("reject_budget_transfer", actor, code, lambda p, by, _: p.reject_transfer(
            transfer_id=transfer_id, by=by, reason=reason), unit)

    # Commitments (purchase orders) ---------------------------------------------------------

    def submit_commitment(self, actor: Actor, code: str, *, po_number: str, vendor: str, line: str,
                          amount: Decimal | str, description: str = "",
                          unit: UnitOfWork | None = None) -> Done:
        """Submit a purchase order / encumbrance for approval (PM); returns the PO number."""
        return self.on_project("submit_commitment", actor, code, lambda p, by, _: p.submit_commitment(
            po_number=po_number, vendor=vendor, line=line, amount=amount,
            description=description, by=by), unit)

    def approve_commitment(self, actor: Actor, code: str, po_number: str, *, reason: str = "",
                           unit: UnitOfWork | None = None) -> Done:
        """Approve a PO (fiscal; over the thresholds a second fiscal officer, then the
        sponsor). Refused if it would overdraw the line."""
        return self.on_project("approve_commitment", actor, code, lambda p, by, rules: p.approve_commitment(
            po_number=po_number, rules=rules, by=by, reason=reason), unit)

    def reject_commitment(self, actor: Actor, code: str, po_number: str, *, reason: str,
                          unit: UnitOfWork | None = None) -> Done:
        """Reject a pending PO (fiscal or sponsor), with a reason."""
        return self.on_project("reject_commitment", actor, code, lambda p, by, _: p.reject_commitment(
            po_number=po_number, by=by, reason=reason), unit)

    def close_commitment(self, actor: Actor, code: str, po_number: str, *, reason: str,
                         unit: UnitOfWork | None = None) -> Done:
        """Close an open PO as complete (PM or fiscal): its unliquidated rest is released."""
        return self.on_project("close_commitment", actor, code, lambda p, by, _: p.close_commitment(
            po_number=po_number, by=by, reason=reason), unit)

    def release_commitment(self, actor: Actor, code: str, po_number: str, *, reason: str,
                           unit: UnitOfWork | None = None) -> Done:
        """Cancel an open PO (fiscal): the encumbrance is released back to the line."""
        return self.on_project("release_commitment", actor, code, lambda p, by, _: p.release_commitment(
            po_number=po_number, by=by, reason=reason), unit)

    # Expenditures --------------------------------------------------------------------------

    def submit_expenditure(
        self, actor: Actor, code: str, *, line: str, amount: Decimal | str, vendor: str,
        invoice_number: str, invoice_date: date, description: str,
        po_number: str | None = None, document_sha256: str | None = None,
        unit: UnitOfWork | None = None,
    ) -> Done:
        """Submit an invoice for approval (PM); returns its id (EXP-0001...)."""
        return self.on_project("submit_expenditure", actor, code, lambda p, by, _: p.submit_expenditure(
            line=line, amount=amount, vendor=vendor, invoice_number=invoice_number,
            invoice_date=invoice_date, description=description, po_number=po_number,
            document_sha256=document_sha256, by=by), unit)

    def approve_expenditure(self, actor: Actor, code: str, expenditure_id: str, *, reason: str = "",
                            unit: UnitOfWork | None = None) -> Done:
        """Approve an expenditure (fiscal; over 25,000 two different fiscal officers; over
        100,000 then also the sponsor). Refused if it would overdraw the line."""
        return self.on_project("approve_expenditure", actor, code, lambda p, by, rules: p.approve_expenditure(
            expenditure_id=expenditure_id, rules=rules, by=by, reason=reason), unit)

    def reject_expenditure(self, actor: Actor, code: str, expenditure_id: str, *, reason: str,
                           unit: UnitOfWork | None = None) -> Done:
        """Reject a pending expenditure (fiscal or sponsor), with a reason."""
        return self.on_project("reject_expenditure", actor, code, lambda p, by, _: p.reject_expenditure(
            expenditure_id=expenditure_id, by=by, reason=reason), unit)

    def reverse_expenditure(self, actor: Actor, code: str, expenditure_id: str, *, reason: str,
                            unit: UnitOfWork | None = None) -> Done:
        """Reverse an approved expenditure (fiscal), with a reason; allowed on closed projects."""
        return self.on_project("reverse_expenditure", actor, code, lambda p, by, _: p.reverse_expenditure(
            expenditure_id=expenditure_id, by=by, reason=reason), unit)
