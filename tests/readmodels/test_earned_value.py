"""A worked earned-value example: every figure below is computed by hand in the comments.

The project (BAC = 30,000 + 60,000 + 10,000 = 100,000.00):
  M-01 Design   2025-01-01 .. 2025-01-31 (30 days)  BV 30,000.00
  M-02 Build    2025-02-01 .. 2025-03-03 (30 days)  BV 60,000.00
  M-03 Go-live  2025-03-31 .. 2025-03-31 (zero length, counts in full from its finish)
                                                    BV 10,000.00
Progress (business date: percent):  M-01 2025-01-16: 50, 2025-01-31: 100;
  M-02 2025-02-10: 20, then (recorded later, same date) 2025-02-10: 25, 2025-02-16: 40.
Invoices (invoice date, amount):  INV-1 2025-01-20 12,000 approved;
  INV-2 2025-02-05 9,000 approved;  INV-3 2025-02-12 5,000 approved then reversed;
  INV-4 2025-02-01 3,000 left pending;  INV-5 2025-01-10 700 rejected.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.readmodels.asof import earned_from_project
from tests.domain.helpers import CODE, World
from tests.readmodels.support import models_for

D = Decimal


def build(w: World) -> datetime:
    """The project above; returns the instant just before INV-3 was reversed."""
    app, pm = w.app, w.pm
    w.charter()
    app.add_budget_line(pm, CODE, line="HW-01", name="Servers", category="hardware", amount="100000.00")
    app.add_budget_line(pm, CODE, line="LB-01", name="Staff", category="labour", amount="200000.00")
    for key, start, finish, value in (("M-01", date(2025, 1, 1), date(2025, 1, 31), "30000.00"),
                                      ("M-02", date(2025, 2, 1), date(2025, 3, 3), "60000.00"),
                                      ("M-03", date(2025, 3, 31), date(2025, 3, 31), "10000.00")):
        app.add_milestone(pm, CODE, milestone=key, name=key, planned_start=start,
                          planned_finish=finish, budgeted_value=value)
    for key, day, percent in (("M-01", date(2025, 1, 16), 50), ("M-01", date(2025, 1, 31), 100),
                              ("M-02", date(2025, 2, 10), 20), ("M-02", date(2025, 2, 10), 25),
                              ("M-02", date(2025, 2, 16), 40)):
        app.report_progress(pm, CODE, key, percent=percent, as_of=day)
    e1 = w.expenditure("12000.00", invoice="INV-1", invoice_date=date(2025, 1, 20))
    e2 = w.expenditure("9000.00", line="LB-01", invoice="INV-2", invoice_date=date(2025, 2, 5))
    e3 = w.expenditure("5000.00", invoice="INV-3", invoice_date=date(2025, 2, 12))
    w.expenditure("3000.00", invoice="INV-4", invoice_date=date(2025, 2, 1))
    e5 = w.expenditure("700.00", invoice="INV-5", invoice_date=date(2025, 1, 10))
    for e in (e1, e2, e3):
        app.approve_expenditure(w.fiscal, CODE, e)
    app.reject_expenditure(w.fiscal, CODE, e5, reason="not ours")
    before_reversal = datetime.now(UTC)
    app.reverse_expenditure(w.fiscal, CODE, e3, reason="duplicate billing")
    return before_reversal


# (date, PV, EV, AC, CV, SV, CPI, SPI, EAC, ETC, VAC, TCPI, percent complete), as shown.
HAND = [
    # 2025-01-01: nothing planned, earned or spent yet. PV = 0 (M-01 at 0/30 days).
    # CPI = 0/0 and SPI = 0/0: zero denominators, not available; so are EAC, ETC, VAC.
    # TCPI = (100,000 - 0) / (100,000 - 0) = 1.000.
    (date(2025, 1, 1), "0.00", "0.00", "0.00", "0.00", "0.00", None, None, None, None, None,
     "1.000", "0.0"),
    # 2025-01-20: PV = 30,000 x 19/30 = 19,000. EV = 30,000 x 50% = 15,000.
    # AC = INV-1 12,000 (INV-5 rejected, dated earlier). CV = 3,000; SV = -4,000.
    # CPI = 15,000/12,000 = 1.25; SPI = 15,000/19,000 = 0.78947 -> 0.789.
    # EAC = 100,000/1.25 = 80,000; ETC = 80,000 - 12,000 = 68,000; VAC = 20,000.
    # TCPI = 85,000/88,000 = 0.96590 -> 0.966. Percent complete 15,000/100,000 = 15.0.
    (date(2025, 1, 20), "19000.00", "15000.00", "12000.00", "3000.00", "-4000.00", "1.250",
     "0.789", "80000.00", "68000.00", "20000.00", "0.966", "15.0"),
    # 2025-02-13: PV = 30,000 + 60,000 x 12/30 = 54,000 (M-03 not until 03-31).
    # EV = 30,000 x 100% + 60,000 x 25% (the later report for 02-10 wins; 02-16 is
    # after t) = 45,000. AC = 12,000 + 9,000 = 21,000 (INV-3 was reversed; INV-4 pending).
    # CV = 24,000; SV = -9,000; CPI = 45/21 = 2.142857 -> 2.143; SPI = 45/54 = 0.833.
    # EAC = 100,000 x 21/45 = 46,666.666... -> 46,666.67; ETC = 25,666.666... -> 25,666.67;
    # VAC = 53,333.333... -> 53,333.33; TCPI = 55,000/79,000 = 0.696202 -> 0.696.
    (date(2025, 2, 13), "54000.00", "45000.00", "21000.00", "24000.00", "-9000.00", "2.143",
     "0.833", "46666.67", "25666.67", "53333.33", "0.696", "45.0"),
]
KEYS = ("as_of", "pv", "ev", "ac", "cv", "sv", "cpi", "spi", "eac", "etc", "vac", "tcpi",
        "percent_complete")


@pytest.mark.parametrize("row", HAND, ids=[str(r[0]) for r in HAND])
def test_worked_example_matches_the_hand_computation(world: World, row: tuple) -> None:
    build(world)
    models = models_for(world.app)
    expected = {k: (v if k == "as_of" or v is None else D(v)) for k, v in zip(KEYS, row, strict=True)}
    shown = models.earned_value(CODE, row[0]).shown()
    assert {k: shown[k] for k in KEYS} == expected
    assert shown["bac"] == D("100000.00")
    # The replayed aggregate, through the domain's own functions, agrees exactly.
    project = world.app.project(CODE)
    assert earned_from_project(project, row[0]) == models.earned_value(CODE, row[0])


def test_exact_until_shown_and_the_zero_length_milestone(world: World) -> None:
    build(world)
    models = models_for(world.app)
    ev = models.earned_value(CODE, date(2025, 2, 13))
    assert ev.eac == D(100000) / (D(45000) / D(21000))  # not rounded inside
    assert ev.spi == D(45000) / D(54000)
    # M-03 has no length: nothing of it is planned on 03-30, all of it on 03-31.
    assert models.earned_value(CODE, date(2025, 3, 30)).pv == D("90000.00")
    assert models.earned_value(CODE, date(2025, 3, 31)).pv == D("100000.00")


def test_two_clocks_spent_by_a_date_as_known_now_and_as_known_then(world: World) -> None:
    before_reversal = build(world)
    models = models_for(world.app)
    # What was spent by 13 February, as we know it today: INV-3 has since been reversed.
    assert models.spent_by(CODE, date(2025, 2, 13)) == D("21000.00")
    # ...and as the ledger knew it just before the reversal was recorded.
    assert models.spent_by(CODE, date(2025, 2, 13), known_at=before_reversal) == D("26000.00")
    then = models.replay(CODE, instant=before_reversal, business_date=date(2025, 2, 13))
    assert then.summary.earned_value.ac == D("26000.00")


def test_portfolio_figures_are_ratios_of_sums(world: World) -> None:
    build(world)
    world.charter("IT-2026-099")
    app, pm = world.app, world.pm
    app.add_milestone(pm, "IT-2026-099", milestone="M-01", name="All", planned_start=date(2025, 1, 1),
                      planned_finish=date(2025, 1, 31), budgeted_value="30000.00")
    models = models_for(app)
    t = date(2025, 1, 20)
    (total,) = models.portfolio_earned_value(t).values()
    # PV 19,000 + 19,000; EV 15,000 + 0; AC 12,000 + 0.
    assert (total.pv, total.ev, total.ac, total.bac) == (D("38000.00"), D("15000.00"),
                                                        D("12000.00"), D("130000.00"))
    assert total.shown()["spi"] == D("0.395")  # 15,000 / 38,000 = 0.39473...
    summaries = {s.facts.project: s for s in models.portfolio(t)}
    assert summaries["IT-2026-099"].earned_value.cpi is None  # nothing spent: n/a
    assert summaries["IT-2026-099"].rag == "red"  # SPI 0 is red; CPI n/a is ignored
    assert summaries[CODE].rag == "red"  # SPI 0.789 below the amber band (0.90)


def test_s_curve_is_the_figures_at_each_month_end(world: World) -> None:
    build(world)
    models = models_for(world.app)
    points = models.s_curve(CODE, [date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31)])
    # PV at month ends: 30,000; 30,000 + 60,000 x 27/30 = 84,000; 100,000.
    assert [p.pv for p in points] == [D("30000.00"), D("84000.00"), D("100000.00")]
    assert [p.ev for p in points] == [D("30000.00"), D("54000.00"), D("54000.00")]
    default = models.s_curve(CODE)
    assert default[0].as_of == date(2025, 1, 31) and default[-1].as_of >= date(2026, 6, 30)
    world.charter("IT-2026-099")
    world.app.add_milestone(world.pm, "IT-2026-099", milestone="M-01", name="All",
                            planned_start=date(2025, 1, 1), planned_finish=date(2025, 1, 31),
                            budgeted_value="30000.00")
    portfolio = models.s_curve(None, [date(2025, 1, 31)])
    assert (portfolio[0].pv, portfolio[0].bac) == (D("60000.00"), D("130000.00"))
