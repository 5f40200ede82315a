"""`pmo-ledger report|compliance|replay|projections`: exit codes, formats, and errors
that write nothing."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.domain.helpers import CODE, World
from tests.readmodels.test_earned_value import build
from web.cli import cli


def run(world: World, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--db", world.url])


def tables(world: World) -> tuple:
    """Every table and its row count: what a refused command must leave as it was."""
    path = world.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return tuple((n, con.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]) for n in names)


@pytest.fixture
def ledger(world: World) -> World:
    build(world)
    return world


def test_variance_as_of_a_date_in_every_format(ledger: World) -> None:
    result = run(ledger, "report", "variance", CODE, "--as-of", "2025-02-13", "--format", "json")
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert (row["pv"], row["ev"], row["ac"], row["cpi"], row["eac"]) == (
        "54000.00", "45000.00", "21000.00", "2.143", "46666.67")
    table = run(ledger, "report", "variance", CODE, "--as-of", "2025-01-01")
    assert table.exit_code == 0 and "n/a" in table.stdout  # CPI 0/0: not available
    rows = list(csv.DictReader(io.StringIO(run(ledger, "report", "variance", "--as-of", "2025-01-20",
                                               "--format", "csv").stdout)))
    assert [r["project"] for r in rows] == [CODE, "PORTFOLIO"]
    assert rows[0]["cpi"] == "1.250" and rows[0]["eac"] == "80000.00"


def test_the_s_curve_and_the_figures_as_known_at_an_instant(ledger: World) -> None:
    series = run(ledger, "report", "variance", CODE, "--series", "--format", "csv")
    assert series.exit_code == 0, series.stderr
    points = list(csv.DictReader(io.StringIO(series.stdout)))
    assert points[0]["as_of"] == "2025-01-31" and points[0]["pv"] == "30000.00"
    portfolio = list(csv.DictReader(io.StringIO(
        run(ledger, "report", "variance", "--series", "--format", "csv").stdout)))
    assert [p["pv"] for p in portfolio] == [p["pv"] for p in points]  # one project: the same
    assert portfolio[0]["project"] == "PORTFOLIO"
    known = run(ledger, "report", "variance", CODE, "--as-of", "2025-02-13", "--known-at",
                datetime.now(UTC).isoformat(), "--format", "json")
    assert json.loads(known.stdout)[0]["ac"] == "21000.00"


def test_budget_and_portfolio(ledger: World) -> None:
    budget = json.loads(run(ledger, "report", "budget", CODE, "--format", "json").stdout)
    assert [(r["line"], r["spent"]) for r in budget] == [("HW-01", "12000.00"), ("LB-01", "9000.00")]
    then = run(ledger, "report", "budget", "--as-of", "2000-01-01", "--format", "json")
    assert then.exit_code == 0 and json.loads(then.stdout) == []  # nothing existed yet
    portfolio = run(ledger, "report", "portfolio", "--as-of", "2025-02-13")
    assert portfolio.exit_code == 0 and CODE in portfolio.stdout and "red" in portfolio.stdout
    (one,) = json.loads(run(ledger, "report", "portfolio", CODE, "--format", "json").stdout)
    assert one["project"] == CODE and one["budget"] == "300000.00"


def test_replay_by_position_and_by_instant(ledger: World) -> None:
    size = ledger.app.size()
    doc = json.loads(run(ledger, "replay", CODE, "--position", str(size - 1), "--format", "json").stdout)
    assert doc["position"] == size - 1 and doc["project"] == CODE
    assert {line["line"] for line in doc["lines"]} == {"HW-01", "LB-01"}
    table = run(ledger, "replay", CODE, "--as-of", datetime.now(UTC).isoformat())
    assert table.exit_code == 0 and "Budget by line" in table.stdout
    lines = run(ledger, "replay", CODE, "--as-of", "2999-01-01", "--format", "csv")
    assert lines.stdout.startswith('"project","line",')  # every cell quoted (CSV injection)


def test_compliance_and_projections(ledger: World) -> None:
    findings = run(ledger, "compliance", "--format", "json")
    assert findings.exit_code == 0, findings.stderr
    assert all({"rule_id", "severity", "evidence", "message"} <= set(f) for f in json.loads(findings.stdout))
    rebuilt = run(ledger, "projections", "rebuild")
    assert rebuilt.exit_code == 0 and f"{ledger.app.size()} events" in rebuilt.stdout
    assert "rebuilding read models" in rebuilt.stderr  # progress on stderr
    status = json.loads(run(ledger, "projections", "status", "--json").stdout)
    assert status == {"log_size": ledger.app.size(), "read_models_at": ledger.app.size()}


@pytest.mark.parametrize("args, message", [
    (("report", "variance", "IT-2099-001"), "no project IT-2099-001"),
    (("report", "portfolio", "--as-of", "2025-13-01"), "is not a date"),
    (("report", "variance", "--known-at", "2025-01-01"), "needs a PROJECT"),
    (("replay", CODE), "exactly one of"),
    (("replay", CODE, "--as-of", "2025-01-01T10:00:00", "--position", "3"), "exactly one of"),
    (("replay", CODE, "--as-of", "2025-01-01T10:00:00"), "no time zone"),
    (("replay", CODE, "--position", "0"), "1 or more"),
    (("replay", CODE, "--position", "99999"), "not in the log"),
    (("compliance", "--project", "NOPE-1"), "no project NOPE-1"),
])
def test_bad_input_is_an_error_and_writes_nothing(ledger: World, args: tuple, message: str) -> None:
    before = tables(ledger)
    result = run(ledger, *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert tables(ledger) == before


def test_a_missing_ledger_is_an_error_and_no_file_appears(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    result = CliRunner().invoke(cli, ["report", "portfolio", "--db", f"sqlite:///{path}"])
    assert result.exit_code == 1 and "run `pmo-ledger init" in result.stderr
    assert not path.exists()
