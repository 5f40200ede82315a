"""What the read models answer with: plain frozen records holding exact values.

Money stays exact `Decimal` here; it is rounded half-up to cents (ratios to three places)
only by `shown()`, when a figure is displayed or exported, as DESIGN.md requires.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.earned_value import RATIO, ratio
from domain.money import CENT
from domain.policy import Rules

PERCENT = Decimal("0.1")


def cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def three_places(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(RATIO, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class EarnedValue:
    """PV, EV, AC and BAC as of a business date, and every figure DESIGN.md derives from
    them. A ratio with a zero denominator is None (not available), never an error."""

    as_of: date
    bac: Decimal
    pv: Decimal
    ev: Decimal
    ac: Decimal

    @property
    def cv(self) -> Decimal:
        return self.ev - self.ac

    @property
    def sv(self) -> Decimal:
        return self.ev - self.pv

    @property
    def cpi(self) -> Decimal | None:
        return ratio(self.ev, self.ac)

    @property
    def spi(self) -> Decimal | None:
        return ratio(self.ev, self.pv)

    @property
    def eac(self) -> Decimal | None:
        cpi = self.cpi
        return None if cpi is None else ratio(self.bac, cpi)

    @property
    def etc(self) -> Decimal | None:
        eac = self.eac
        return None if eac is None else eac - self.ac

    @property
    def vac(self) -> Decimal | None:
        eac = self.eac
        return None if eac is None else self.bac - eac

    @property
    def tcpi(self) -> Decimal | None:
        return ratio(self.bac - self.ev, self.bac - self.ac)

    @property
    def percent_complete(self) -> Decimal | None:
        share = ratio(self.ev, self.bac)
        return None if share is None else share * 100

    def __add__(self, other: EarnedValue) -> EarnedValue:
        """Portfolio figures: the sums of PV, EV, AC and BAC, ratios of the sums."""
        return EarnedValue(self.as_of, self.bac + other.bac, self.pv + other.pv,
                           self.ev + other.ev, self.ac + other.ac)

    def rag(self, rules: Rules) -> str | None:
        """The worse of the CPI and SPI bands; None when neither ratio is available."""
        bands = [b for b in (rules.band(self.cpi), rules.band(self.spi)) if b is not None]
        for band in ("red", "amber", "green"):
            if band in bands:
                return band
        return None

    def shown(self) -> dict[str, Any]:
        """The figures as displayed: money to cents, ratios to three places."""
        money = ("bac", "pv", "ev", "ac", "cv", "sv", "eac", "etc", "vac")
        out: dict[str, Any] = {"as_of": self.as_of}
        out.update({k: cents(getattr(self, k)) for k in money})
        out.update({k: three_places(getattr(self, k)) for k in ("cpi", "spi", "tcpi")})
        pc = self.percent_complete
        out["percent_complete"] = None if pc is None else pc.quantize(PERCENT, rounding=ROUND_HALF_UP)
        return out


@dataclass(frozen=True)
class LineBudget:
    project: str
    line: str
    name: str
    category: str
    original: Decimal
    transferred: Decimal
    cr_adjusted: Decimal
    current: Decimal
    committed: Decimal
    spent: Decimal
    pending: Decimal
    available: Decimal


@dataclass(frozen=True)
class MilestonePlan:
    project: str
    milestone: str
    name: str
    planned_start: date
    planned_finish: date
    budgeted_value: Decimal
    percent: int
    percent_as_of: date | None
    accepted: bool


@dataclass(frozen=True)
class ProjectFacts:
    """A project's position that does not depend on a business date."""

    project: str
    project_id: str
    title: str
    currency: str
    status: str
    next_gate: str | None
    next_gate_status: str | None
    sponsor: str
    project_manager: str
    start_date: date
    target_finish: date
    original: Decimal
    budget: Decimal
    committed: Decimal
    spent: Decimal
    pending: Decimal
    available: Decimal
    bac: Decimal
    last_report: str | None
    last_report_end: date | None
    last_report_overall: str | None
    last_report_at: datetime | None
    version: int
    position: int


@dataclass(frozen=True)
class ProjectSummary:
    """Facts plus earned value, percent complete, CPI/SPI and RAG as of a business date."""

    facts: ProjectFacts
    earned_value: EarnedValue
    rag: str | None

    def shown(self) -> dict[str, Any]:
        f = self.facts
        ev = self.earned_value.shown()
        return {
            "project": f.project, "title": f.title, "currency": f.currency, "status": f.status,
            "budget": cents(f.budget), "committed": cents(f.committed), "spent": cents(f.spent),
            "available": cents(f.available), "percent_complete": ev["percent_complete"],
            "cpi": ev["cpi"], "spi": ev["spi"], "rag": self.rag, "next_gate": f.next_gate,
            "as_of": ev["as_of"],
        }


@dataclass(frozen=True)
class QueueItem:
    project: str
    kind: str
    item: str
    role: str
    summary: str
    amount: Decimal | None
    submitted_by: str | None
    submitted_at: datetime | None
    approvals: int
    position: int


@dataclass(frozen=True)
class Approval:
    position: int
    project: str
    kind: str
    item: str
    decision: str
    role: str | None
    actor_id: str
    actor_name: str
    meaning: str
    reason: str | None
    conditions: str | None
    recorded_at: datetime
    key_status: str


@dataclass(frozen=True)
class AuditEntry:
    position: int
    project: str
    field: str
    old_value: str | None
    new_value: str | None
    event: str
    actor_id: str | None
    actor_name: str | None
    recorded_at: datetime
    reason: str | None
    key_id: str
    key_status: str


@dataclass(frozen=True)
class FindingRow:
    rule_id: str
    severity: str
    project: str | None
    message: str
    evidence: tuple[int, ...]


def as_dict(record: Any) -> dict[str, Any]:
    """A record's fields (not nested records) as a dict, for tables and exports."""
    return {f.name: getattr(record, f.name) for f in fields(record)}
