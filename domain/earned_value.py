"""Earned value of a project as of a business date, exactly as DESIGN.md defines it.

Pure functions of the project's state: PV spreads each milestone's budgeted value linearly
over its planned dates; EV is the budgeted value times the latest percent complete
reported on or before t; AC is approved (not reversed) expenditures invoiced on or before t.
Sums stay exact; rounding happens only in `figures`, which is what a status report stores.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.money import CENT, ZERO

RATIO = Decimal("0.001")


def planned_fraction(start: date, finish: date, t: date) -> Decimal:
    """Share of a milestone planned done by t, clipped to [0, 1]; a zero-length milestone
    counts in full from its finish date."""
    if finish <= start:
        return Decimal(1) if t >= finish else Decimal(0)
    fraction = Decimal((t - start).days) / Decimal((finish - start).days)
    return min(Decimal(1), max(Decimal(0), fraction))


def percent_as_of(milestone: dict[str, Any], t: date) -> int:
    """The latest percent complete reported for a business date on or before t."""
    latest: tuple[date, int] | None = None
    for report in milestone["progress"]:
        # Later reports for the same date win: the list is in recording order.
        if report["as_of"] <= t and (latest is None or report["as_of"] >= latest[0]):
            latest = (report["as_of"], report["percent"])
    return latest[1] if latest else 0


def pv(project: Any, t: date) -> Decimal:
    return sum((m["budgeted_value"] * planned_fraction(m["planned_start"], m["planned_finish"], t)
                for m in project.milestones.values()), ZERO)


def ev(project: Any, t: date) -> Decimal:
    return sum((m["budgeted_value"] * percent_as_of(m, t) / 100
                for m in project.milestones.values()), ZERO)


def ac(project: Any, t: date) -> Decimal:
    return sum((e["amount"] for e in project.expenditures.values()
                if e["status"] == "approved" and e["invoice_date"] <= t), ZERO)


def bac(project: Any) -> Decimal:
    return sum((m["budgeted_value"] for m in project.milestones.values()), ZERO)


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """A ratio, or None (not available) when the denominator is zero."""
    return None if denominator == 0 else numerator / denominator


def figures(project: Any, t: date) -> dict[str, Any]:
    """The figures a status report stores: budget position now, earned value as of t."""
    planned, earned, actual = pv(project, t), ev(project, t), ac(project, t)
    totals = project.totals()
    out: dict[str, Any] = {"as_of": t}
    for key in ("budget", "committed", "spent", "available"):
        out[key] = _cents(totals[key])
    for key, value in (("bac", bac(project)), ("pv", planned), ("ev", earned), ("ac", actual),
                       ("cv", earned - actual), ("sv", earned - planned)):
        out[key] = _cents(value)
    out["cpi"] = _ratio(ratio(earned, actual))
    out["spi"] = _ratio(ratio(earned, planned))
    return out


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _ratio(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(RATIO, rounding=ROUND_HALF_UP)
