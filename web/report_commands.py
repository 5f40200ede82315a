"""`pmo-ledger report`, `compliance`, `replay` and `projections` (registered in web/cli.py).

Every command reads the read models, after bringing them up to date with the log (with
progress on stderr when there is much to do). Arguments are checked, and the project is
looked up in the log itself, before anything is written, so a bad command writes nothing:
it prints `error: ...` on stderr and exits 1.

The log is verified first (ledger/integrity.py): from the last position verified clean
(remembered in the database, its chain hash checked), or from 1 (in parallel) when there
is none, and every chain link is recomputed from the stored bytes (a sweep: hashing only).
A fault makes `report`, `replay` and `compliance` exit 1 naming it -- unless given
--allow-faults: then a warning on stderr, and the figures stop before the fault.
`projections rebuild` rebuilds up to the fault, says so and exits 1.

Output: `--format table` (default, for people), `csv` or `json` (for machines). Money is
shown rounded half-up to cents, ratios to three places, "not available" as n/a / empty /
null. JSON carries money and ratios as decimal strings, never floats.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, NoReturn

import click
from eventsourcing.persistence import PersistenceError

from domain.errors import DomainError
from ledger.backend import DB_ENV, resolve_url
from ledger.errors import LedgerError
from web.csv_safe import csv_writer, safe_cell
from web.progress import Progress

FORMATS = ("table", "csv", "json")

db_option = click.option(
    "--db", "db_url", envvar=DB_ENV, default=None,
    help=f"Database URL (sqlite:///file.db or postgresql://user@host:port/db); default ${DB_ENV} or instance/.")
format_option = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                             show_default=True, help="Output format.")
allow_faults_option = click.option(
    "--allow-faults", is_flag=True, default=False,
    help="Report even when the log has an integrity fault (a warning on stderr; the figures "
         "stop before the fault). Without it such a ledger is an error (exit 1).")


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


# Arguments --------------------------------------------------------------------------------


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option} {value!r} is not a date (YYYY-MM-DD)")


def parse_instant(value: str, option: str) -> datetime:
    """A UTC instant (2026-03-01T12:00:00Z, or with an offset); a bare date means the end
    of that UTC day, i.e. everything recorded on it."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max, UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        fail(f"{option} {value!r} is not an instant (such as 2026-03-01T12:00:00Z)")
    if parsed.tzinfo is None:
        fail(f"{option} {value!r} has no time zone: give a UTC instant such as 2026-03-01T12:00:00Z")
    return parsed.astimezone(UTC)


# The ledger and its read models --------------------------------------------------------------


@contextmanager
def read_models(db_url: str | None, project: str | None = None, *, catch_up: bool = True,
                position: int | None = None, allow_faults: bool = False,
                verify: bool = True) -> Iterator[Any]:
    """Open the ledger and its read models, checking `project` (and `position`) exist in
    the log before anything is written, then verify the log (`verify_first`) and catch
    up; domain and ledger errors become `error: ...`."""
    from domain.project import project_id
    from domain.readmodels import ReadModels
    from domain.services import PMOApplication
    from ledger.application import open_ledger

    app = None
    try:
        app = open_ledger(resolve_url(db_url, "instance"), app_class=PMOApplication)
        if project is not None and not app.has_events(project_id(project)):
            fail(f"no project {project} in this ledger")
        if position is not None and position > app.size():
            fail(f"position {position} is not in the log (it holds {app.size()})")
        faulty = verify_first(app, allow_faults) if verify else False
        models = ReadModels(app, on_fault="stop" if faulty else None)
        if catch_up:
            models.catch_up(Progress("updating read models"))
        yield models
    except (LedgerError, DomainError) as e:
        fail(str(e))
    except PersistenceError as e:  # the database refused (locked too long, gone away...)
        fail(f"the database could not be read or written: {e}")
    finally:
        if app is not None:
            app.close()


def verify_first(app: Any, allow_faults: bool) -> bool:
    """Verify the log before reading anything derived from it: the integrity monitor's
    start-up (from the remembered position, or from 1 in parallel), then a sweep of every
    chain link. A fault: exit 1 naming it, or with `allow_faults` a warning (returns True).
    The position verified clean is remembered for the next run."""
    from ledger.integrity import describe, monitor_for
    from ledger.keys import usable_cpus

    monitor = monitor_for(app)
    monitor.start(Progress("verifying the log"), workers=usable_cpus())
    monitor.sweep(Progress("checking the chain"))
    fault = monitor.fault
    if fault is None:
        monitor.persist()
        return False
    more = len(monitor.faults) - 1
    told = f"{describe(fault)}" + (f" (and {more} more)" if more > 0 else "")
    if not allow_faults:
        fail(f"{told}. Run `pmo-ledger verify` for every fault, or pass --allow-faults to "
             f"report anyway (the figures then stop at position {monitor.bound()})")
    click.echo(f"warning: {told}; going on with the read models up to position {monitor.bound()}",
               err=True)
    return True


# Output ----------------------------------------------------------------------------------------


def emit(rows: Sequence[dict[str, Any]], fmt: str, *, title: str | None = None) -> None:
    if fmt == "json":
        click.echo(json.dumps(rows, default=_json_value, indent=2))
    elif fmt == "csv":
        click.echo(_csv(rows), nl=False)
    else:
        if title:
            click.echo(title)
        click.echo(table(rows))


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot show {type(value).__name__}")


def _text(value: Any, empty: str) -> str:
    if value is None:
        return empty
    if isinstance(value, (datetime, date, Decimal)):
        return _json_value(value)
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value))
    return str(value)


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv_writer(out)
        writer.writerow(rows[0].keys())
        for row in rows:
            writer.writerow(safe_cell(_text(v, "")) for v in row.values())
    return out.getvalue()


def table(rows: Sequence[dict[str, Any]]) -> str:
    """Aligned columns; numbers right-aligned; n/a where a figure is not available."""
    if not rows:
        return "(none)"
    heads = list(rows[0].keys())
    cells = [[_text(r[h], "n/a") for h in heads] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    numeric = [all(isinstance(r[h], (int, Decimal)) or r[h] is None for r in rows) for h in heads]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w)
                         for v, w, n in zip(values, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(heads), line(["-" * w for w in widths]), *map(line, cells)])


def _ev_row(label: str, currency: str, shown: dict[str, Any]) -> dict[str, Any]:
    return {"project": label, "currency": currency, **shown}


# report --------------------------------------------------------------------------------------


@click.group("report")
def report_group() -> None:
    """Reports: variance (earned value), budget by line, portfolio summary."""


@report_group.command("variance")
@click.argument("project", required=False)
@db_option
@click.option("--as-of", "as_of", default=None, help="Business date YYYY-MM-DD (default: today, UTC).")
@click.option("--known-at", default=None,
              help="UTC instant: the figures as the log knew them then (default: now).")
@click.option("--series", is_flag=True,
              help="The S-curve: one row per month end (the portfolio's without PROJECT).")
@format_option
@allow_faults_option
def variance_command(project: str | None, db_url: str | None, as_of: str | None,
                     known_at: str | None, series: bool, fmt: str, allow_faults: bool) -> None:
    """Earned value (PV, EV, AC, CV, SV, CPI, SPI, EAC, ETC, VAC, TCPI) per project and
    for the portfolio, as of a business date."""
    day = parse_day(as_of, "--as-of")
    known = parse_instant(known_at, "--known-at") if known_at else None
    if known and project is None:
        fail("--known-at needs a PROJECT")
    with read_models(db_url, project, allow_faults=allow_faults) as models:
        if series:
            currency = ",".join(sorted({f.currency for f in models.facts(project)}))
            rows = [_ev_row(project or "PORTFOLIO", currency, p.shown())
                    for p in models.s_curve(project)]
        elif known is not None:
            replay = models.replay(project, instant=known, business_date=day or models.today())
            ev = replay.summary.earned_value
            rows = [_ev_row(project, replay.project.currency, ev.shown())]
        else:
            rows = _variance_rows(models, project, day)
        title = f"Earned value as of {day or models.today()}"
    emit(rows, fmt, title=title)


def _variance_rows(models: Any, project: str | None, day: date | None) -> list[dict[str, Any]]:
    summaries = [models.summary(project, day)] if project else models.portfolio(day)
    rows = [_ev_row(s.facts.project, s.facts.currency, s.earned_value.shown()) for s in summaries]
    if project is None:
        for currency, ev in sorted(models.portfolio_earned_value(day, summaries).items()):
            rows.append(_ev_row("PORTFOLIO", currency, ev.shown()))
    return rows


@report_group.command("budget")
@click.argument("project", required=False)
@db_option
@click.option("--as-of", "as_of", default=None,
              help="A date YYYY-MM-DD: the budget as it stood at the end of that UTC day.")
@format_option
@allow_faults_option
def budget_command(project: str | None, db_url: str | None, as_of: str | None, fmt: str,
                   allow_faults: bool) -> None:
    """Budget by line: original, transfers, change-request adjustments, current,
    committed, spent, pending, available."""
    day = parse_day(as_of, "--as-of")
    with read_models(db_url, project, allow_faults=allow_faults) as models:
        if day is None:
            lines = models.budget(project)
        else:
            lines = _budget_then(models, project, day)
    rows = [_line_row(x) for x in lines]
    emit(rows, fmt, title="Budget by line" + (f" at the end of {day}" if day else ""))


def _budget_then(models: Any, project: str | None, day: date) -> list[Any]:
    moment = datetime.combine(day, time.max, UTC)
    codes = [project] if project else [f.project for f in models.facts()]
    lines: list[Any] = []
    for code in codes:
        try:
            lines += models.replay(code, instant=moment).lines
        except DomainError:
            if project:  # asked for by name: say why there is nothing
                raise
    return lines


def _line_row(x: Any) -> dict[str, Any]:
    from domain.readmodels.views import cents

    money = ("original", "transferred", "cr_adjusted", "current", "committed", "spent",
             "pending", "available")
    return {"project": x.project, "line": x.line, "name": x.name, "category": x.category,
            **{k: cents(getattr(x, k)) for k in money}}


@report_group.command("portfolio")
@click.argument("project", required=False)
@db_option
@click.option("--as-of", "as_of", default=None, help="Business date YYYY-MM-DD (default: today, UTC).")
@format_option
@allow_faults_option
def portfolio_command(project: str | None, db_url: str | None, as_of: str | None, fmt: str,
                      allow_faults: bool) -> None:
    """Every project (or one): budget, committed, spent, available, percent complete,
    CPI, SPI, RAG and next gate."""
    day = parse_day(as_of, "--as-of")
    with read_models(db_url, project, allow_faults=allow_faults) as models:
        summaries = [models.summary(project, day)] if project else models.portfolio(day)
        title = f"Portfolio as of {day or models.today()}"
    emit([s.shown() for s in summaries], fmt, title=title)


# compliance ---------------------------------------------------------------------------------------


@click.command("compliance")
@db_option
@click.option("--project", default=None, help="Only the findings about this project.")
@format_option
@allow_faults_option
def compliance_command(db_url: str | None, project: str | None, fmt: str, allow_faults: bool) -> None:
    """Compliance findings: rule, severity, project, message and evidence positions."""
    with read_models(db_url, project, allow_faults=allow_faults) as models:
        models.catch_up_compliance(Progress("judging compliance"))
        findings = models.findings(project)
    rows = [{"rule_id": f.rule_id, "severity": f.severity, "project": f.project,
             "evidence": f.evidence, "message": f.message} for f in findings]
    emit(rows, fmt, title=f"{len(rows)} compliance finding(s)")


# replay -----------------------------------------------------------------------------------------------


@click.command("replay")
@click.argument("project")
@db_option
@click.option("--as-of", "as_of", default=None,
              help="UTC instant (2026-03-01T12:00:00Z; a bare date means the end of that day).")
@click.option("--position", type=int, default=None, help="A log position.")
@format_option
@allow_faults_option
def replay_command(project: str, db_url: str | None, as_of: str | None, position: int | None,
                   fmt: str, allow_faults: bool) -> None:
    """A project as it stood at a UTC instant or a log position: charter, gates, totals,
    budget lines and earned value as of that day."""
    if (as_of is None) == (position is None):
        fail("give exactly one of --as-of INSTANT or --position N")
    instant = parse_instant(as_of, "--as-of") if as_of else None
    if position is not None and position < 1:
        fail(f"--position must be 1 or more (got {position})")
    with read_models(db_url, project, position=position, allow_faults=allow_faults) as models:
        replay = models.replay(project, position=position, instant=instant)
    _emit_replay(replay, fmt)


def _emit_replay(replay: Any, fmt: str) -> None:
    lines = [_line_row(x) for x in replay.lines]
    if fmt == "csv":
        emit(lines, fmt)
        return
    p, summary = replay.project, replay.summary
    head = {"project": p.code, "title": p.charter["title"], "version": p.version,
            "position": replay.position, "recorded_at": replay.recorded_at,
            "project_position": replay.project_position, "status": summary.facts.status,
            "next_gate": summary.facts.next_gate}
    gates = [{"gate": g, "status": s["status"], "round": s["round"]} for g, s in sorted(p.gates.items())]
    if fmt == "json":
        doc = {**head, "summary": summary.shown(), "earned_value": summary.earned_value.shown(),
               "gates": gates, "lines": lines, "charter": p.charter}
        click.echo(json.dumps(doc, default=_json_value, indent=2))
        return
    for title, rows in (("Project", [head]), ("Summary", [summary.shown()]),
                        ("Earned value", [summary.earned_value.shown()]), ("Gates", gates),
                        ("Budget by line", lines)):
        click.echo(f"{title}\n{table(rows)}\n")


# projections ---------------------------------------------------------------------------------------------


@click.group("projections")
def projections_group() -> None:
    """The read models: rebuild them from the log, or see where they stand."""


@projections_group.command("rebuild")
@db_option
def rebuild_command(db_url: str | None) -> None:
    """Drop every read model and build it again from position 1 (with progress), after
    verifying the log: a rebuild stops before a faulty position, says so and exits 1."""
    with read_models(db_url, catch_up=False, allow_faults=True) as models:
        _timed(lambda: models.rebuild(Progress("rebuilding read models")), "rebuilt read models")
        fault = models.integrity.fault if models.integrity is not None else None
        if fault is not None:
            from ledger.integrity import describe

            fail(f"the rebuild stopped at position {models.position()}, before the fault: "
                 f"{describe(fault)}. Run `pmo-ledger verify` for every fault")


@projections_group.command("status")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def status_command(db_url: str | None, as_json: bool) -> None:
    """Where the read models stand against the end of the log."""
    with read_models(db_url, catch_up=False, verify=False) as models:
        doc = {"log_size": models.app.size(), "read_models_at": models.position()}
    click.echo(json.dumps(doc) if as_json else
               f"log size {doc['log_size']}, read models at position {doc['read_models_at']}")


def _timed(work: Callable[[], int], label: str) -> None:
    import time as clock

    started = clock.perf_counter()
    done = work()
    seconds = clock.perf_counter() - started
    rate = f", {done / seconds:,.0f} events/s" if seconds > 0 and done else ""
    click.echo(f"{label}: {done} events in {seconds:.2f}s{rate}")


COMMANDS = (report_group, compliance_command, replay_command, projections_group)
