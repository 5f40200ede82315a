"""Status reports (features/status_reports.feature)."""

from decimal import Decimal

from pytest_bdd import given, scenarios, then, when

from features.conftest import Ledger, day, money, step

scenarios("status_reports.feature")


@given(step("{user:w} reported milestone {milestone} {percent:d}% complete as of {when}"))
def reported_progress(world: Ledger, user: str, milestone: str, percent: int, when: str) -> None:
    world.app.report_progress(world.actor(user), world.code, milestone, percent=percent,
                              as_of=day(when))


@when(step("{user:w} publishes the status report for {start} to {end} rated "
           "{overall:w}, {schedule:w}, {budget:w}, {scope:w}"))
def publishes(world: Ledger, user: str, start: str, end: str, overall: str, schedule: str,
              budget: str, scope: str) -> None:
    def command() -> str:
        world.report = world.app.publish_status_report(
            world.actor(user), world.code, period_start=day(start), period_end=day(end),
            overall=overall, schedule=schedule, budget=budget, scope=scope,
            summary="Monthly status for the steering committee")
        return world.report

    world.attempt(command)


def stored_figures(world: Ledger, report: str) -> dict:
    world.no_unclaimed_refusal()
    assert world.report == report
    return world.project().status_reports[report]["figures"]


@then(step("status report {code} shows PV {pv}, EV {ev} and AC {ac}"))
def shows_values(world: Ledger, code: str, pv: str, ev: str, ac: str) -> None:
    f = stored_figures(world, code)
    assert (f["pv"], f["ev"], f["ac"]) == (money(pv), money(ev), money(ac))


@then(step("status report {code} shows a CPI of {cpi} and an SPI of {spi}"))
def shows_ratios(world: Ledger, code: str, cpi: str, spi: str) -> None:
    f = stored_figures(world, code)
    assert (f["cpi"], f["spi"]) == (Decimal(cpi), Decimal(spi))


@then(step("status report {code} shows no CPI and an SPI of {spi}"))
def shows_no_cpi(world: Ledger, code: str, spi: str) -> None:
    f = stored_figures(world, code)
    assert f["cpi"] is None and f["spi"] == Decimal(spi)
