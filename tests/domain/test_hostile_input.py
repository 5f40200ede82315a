"""Issue 17: input an attacker (or a slip of the keyboard) sends, refused by the domain
with a message by the field and nothing written."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import DuplicateError, ValidationError
from domain.money import money
from domain.validate import day, match_key
from tests.domain.helpers import CODE, refused


@pytest.fixture
def project(world):
    return world.locked()


# 1. Business dates have a range --------------------------------------------------------


@pytest.mark.parametrize("finish", [date(9999, 12, 31), date(9999, 11, 30), date(2101, 1, 1)])
def test_a_far_target_finish_is_refused(world, finish):
    err = refused(world.app, ValidationError, world.charter, target_finish=finish)
    assert err.field == "target_finish" and "2100-12-31" in str(err)


def test_a_date_before_1990_is_refused(world, project):
    err = refused(world.app, ValidationError, world.expenditure, "10.00", invoice_date=date(1989, 12, 31))
    assert err.field == "invoice_date"


def test_the_edges_of_the_range_are_business_dates():
    assert day("1990-01-01", "d") == date(1990, 1, 1)
    assert day(date(2100, 12, 31), "d") == date(2100, 12, 31)


# 13. Only YYYY-MM-DD ------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["20260101", "2026-W01-1", "2026-001", "2026-1-1", " 2026-02-30"])
def test_only_year_month_day_is_a_date(typed):
    with pytest.raises(ValidationError, match="is not a date"):
        day(typed, "invoice_date")


# 3. One invoice cannot be paid twice by typing it another way ---------------------------


@pytest.mark.parametrize("vendor,invoice", [
    ("Dell Technologies", "inv-611785"),
    ("Dell Technologies\u200b", "INV-611785"),  # a zero-width space
    ("Ｄｅｌｌ Technologies", "INV-611785"),  # full-width letters
    ("Dell  Technologies", "INV\u00a0611785".replace("\u00a0", "-")),
    ("Dell Technologies", "INV\u2010611785"),  # U+2010 hyphen
    ("dell technologies", "INV\u2212611785"),  # minus sign
])
def test_a_duplicate_invoice_typed_another_way_is_refused(world, project, vendor, invoice):
    world.expenditure("10.00", invoice="INV-611785")
    err = refused(world.app, DuplicateError, world.expenditure, "10.00", invoice=invoice, vendor=vendor)
    assert "EXP-0001" in str(err) and err.field == "invoice_number"
    # The text stays as first typed.
    assert world.app.project(CODE).expenditure("EXP-0001")["invoice_number"] == "INV-611785"


def test_an_invoice_number_with_a_no_break_space_matches_one_with_a_space(world, project):
    world.expenditure("10.00", invoice="INV 611785")
    refused(world.app, DuplicateError, world.expenditure, "10.00", invoice="INV\u00a0611785")


def test_match_keys_unify_only_what_is_typed_differently():
    assert match_key("Ａｃｍｅ\u200b  Ltd") == match_key("acme ltd")
    assert match_key("INV-1") != match_key("INV-2")
    assert match_key("INV-1") != match_key("INV1")  # a dash is not nothing


# 9. Money with wrong grouping ---------------------------------------------------------


@pytest.mark.parametrize("typed", ["1,00", "1,0,0,0", "12,34.00", ",100", "1,000,00", "1.000,00", "1e3", " "])
def test_an_amount_with_wrong_grouping_is_refused(typed):
    with pytest.raises(ValidationError) as caught:
        money(typed)
    assert caught.value.field == "amount"


@pytest.mark.parametrize("typed,value", [("1234.56", "1234.56"), ("1,234.56", "1234.56"),
                                         ("1,234,567", "1234567.00"), ("-12.5", "-12.50")])
def test_correctly_grouped_amounts_are_read(typed, value):
    assert str(money(typed)) == value


def test_an_expenditure_of_1_00_typed_as_1_comma_00_is_refused_not_stored_as_100(world, project):
    err = refused(world.app, ValidationError, world.expenditure, "1,00")
    assert err.field == "amount"


# 11. Controls, bidi overrides, invisible-only text --------------------------------------


@pytest.mark.parametrize("typed", ["servers\x00", "a\x1bb", "cost\x85", "invoice\u202egpj.exe", "x\u2066y"])
def test_controls_and_bidi_overrides_are_refused(world, project, typed):
    err = refused(world.app, ValidationError, world.app.submit_expenditure, world.pm, CODE,
                  line="HW-01", amount="10.00", vendor="Acme", invoice_number="INV-9",
                  invoice_date=date(2025, 3, 1), description=typed)
    assert err.field == "description" and "U+" in str(err)


@pytest.mark.parametrize("typed", ["\u200b", "\u200b\u200c ", "\ufeff", "\u00a0"])
def test_invisible_only_text_is_empty(world, project, typed):
    err = refused(world.app, ValidationError, world.app.submit_expenditure, world.pm, CODE,
                  line="HW-01", amount="10.00", vendor="Acme", invoice_number="INV-9",
                  invoice_date=date(2025, 3, 1), description=typed)
    assert err.field == "description" and "required" in str(err)


def test_line_breaks_and_tabs_are_still_text(world, project):
    e = world.app.submit_expenditure(world.pm, CODE, line="HW-01", amount="10.00", vendor="Acme",
                                     invoice_number="INV-9", invoice_date=date(2025, 3, 1),
                                     description="two racks\n\tand cables")
    assert world.app.project(CODE).expenditure(e)["description"] == "two racks\n\tand cables"


def test_an_s_curve_stays_bounded_over_the_longest_business_span():
    from domain.readmodels.service import MAX_CURVE_POINTS, curve_dates

    points = curve_dates(date(1990, 1, 1), date(2100, 12, 31))
    assert len(points) <= MAX_CURVE_POINTS and points[-1] == date(2100, 12, 31)
    assert points == sorted(points) and len(set(points)) == len(points)
    assert len(curve_dates(date(2025, 1, 1), date(2026, 6, 30))) == 18  # short spans: every month


def test_a_far_date_recorded_before_the_range_was_enforced_does_not_break_the_curve():
    from domain.readmodels.service import MAX_CURVE_POINTS, curve_dates

    points = curve_dates(date(1, 1, 1), date(9999, 12, 31))  # year 10000 broke the series
    assert 0 < len(points) <= MAX_CURVE_POINTS and points[-1] == date(2100, 12, 31)


# 10. Lists and events have a size -----------------------------------------------------


def test_thirty_thousand_objectives_are_refused(world):
    err = refused(world.app, ValidationError, world.charter, objectives=["x" * 400] * 30_000)
    assert err.field == "objectives" and "at most 50" in str(err)


def test_a_string_is_not_a_list_of_objectives(world):
    err = refused(world.app, ValidationError, world.charter, objectives="AAA")
    assert err.field == "objectives"


def test_too_many_impacts_or_artifacts_are_refused(world, project):
    impacts = [{"line": "HW-01", "amount": "1.00"}] * 51
    err = refused(world.app, ValidationError, world.app.submit_change_request, world.pm, CODE,
                  title="t", description="d", justification="j", cost_impacts=impacts)
    assert err.field == "cost_impacts"


def test_the_ledger_refuses_an_event_over_its_size_limit_and_writes_nothing(ledger, alice):
    from decimal import Decimal

    from ledger.errors import EventTooLargeError
    from ledger.recorders import MAX_PAYLOAD_BYTES
    from tests.support import Counter, snapshot_of_tables

    app, _ = ledger
    c = Counter("big")
    c.increment(Decimal("1.00"), "n" * (MAX_PAYLOAD_BYTES + 1))
    before = snapshot_of_tables(app)
    with pytest.raises(EventTooLargeError, match="limit"):
        app.save(c, signer=alice)
    assert snapshot_of_tables(app) == before
