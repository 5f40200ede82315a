"""What the pages keep between requests to be cheap (web/aggregates.py, the charts, the
portfolio totals) never shows anything but what a full reading of the log would."""

from __future__ import annotations

import threading
from datetime import date

from domain.readmodels.views import EarnedValue, ProjectSummary
from domain.services import PMOApplication
from ledger.application import open_ledger
from tests.web.conftest import CODE, PW, Site, text_of
from web.ledger_access import get_aggregates, get_read_models
from web.pages import charts


def _other_process(site: Site) -> PMOApplication:
    """Another application on the same database: a second server worker, or the CLI."""
    return open_ledger(site.app.config["LEDGER_DB"], app_class=PMOApplication)


def test_a_cached_project_is_brought_forward_by_writes_from_elsewhere(site: Site) -> None:
    client = site.as_user("pm")
    assert "Vendor staffing" not in text_of(client.get(f"/projects/{CODE}").data)
    other = _other_process(site)
    try:
        other.raise_risk(other.actor("pm", PW), CODE, title="Vendor staffing", probability=3,
                         impact=4, owner="pm", mitigation="weekly check-in")
        page = text_of(client.get(f"/projects/{CODE}").data)
        assert "Vendor staffing" in page
        with site.app.app_context():
            cached = get_aggregates().project(CODE)
            assert cached is get_aggregates().project(CODE)  # this thread's, kept
            assert vars(cached) == vars(other.project(CODE))  # as a full replay has it
    finally:
        other.close()


def test_each_thread_has_its_own_copy(site: Site) -> None:
    with site.app.app_context():
        mine = get_aggregates().project(CODE)
    theirs = []

    def read() -> None:
        with site.app.app_context():
            theirs.append(get_aggregates().project(CODE))

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert theirs[0] is not mine  # fast-forwarded in place: never shared between threads
    assert vars(theirs[0]) == vars(mine)


def test_a_person_deactivated_elsewhere_loses_access_at_once(site: Site) -> None:
    client = site.as_user("fiscal")
    assert client.get("/queues/fiscal").status_code == 200
    other = _other_process(site)
    try:
        other.deactivate_person(other.actor("admin", PW), "fiscal", reason="left")
    finally:
        other.close()
    assert client.get("/queues/fiscal").status_code == 302  # signed out: to the sign-in page


def test_a_chart_is_drawn_again_exactly_when_its_figures_change(site: Site) -> None:
    with site.app.app_context():
        lines = get_read_models().budget(CODE)
    first = charts.budget_by_line(lines, "USD")
    assert charts.budget_by_line(lines, "USD") is first  # the same figures: kept
    assert charts.budget_by_line(lines, "CAD") is not first
    site.pmo.approve_expenditure(site.pmo.actor("fiscal", PW), CODE, "EXP-0001")
    with site.app.app_context():
        moved = get_read_models().budget(CODE)
    redrawn = charts.budget_by_line(moved, "USD")
    assert redrawn is not first
    assert "2,500" in redrawn and "2,500" not in first  # HW-01's spent, now drawn


def test_the_portfolio_totals_are_the_read_models_own(site: Site) -> None:
    with site.app.app_context():
        models = get_read_models()
        day = date(2025, 9, 30)
        summaries: list[ProjectSummary] = models.portfolio(day)
        totals: dict[str, EarnedValue] = models.portfolio_earned_value(day, summaries)
        assert totals == models.portfolio_earned_value(day)
        assert totals  # one currency at least: the comparison was not of two empty dicts
