"""`pmo-ledger bench` smoke tests: it runs, reports every figure, and cleans up after itself.

Not timed tests: nothing here asserts a speed, only that the figures exist, are positive and
that the ratios and verdicts are computed from them.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.keys import Signer
from tests.conftest import PG_HOST, PG_PORT, pg_admin, require_postgres
from tools.bench.command import bench_command
from tools.bench.ledger import TARGETS, BenchDatabaseNotEmptyError, _interleaved, analyse, run_bench

pytestmark = pytest.mark.slow  # started first: see tests/conftest.py

RATES = ("raw_append_1", "signed_append_1", "raw_append_100",
         "signed_append_100", "ed25519_verify_1core", "verify_limit", "verification",
         "signed_append_1_without_actor_check")
RATIOS = {"append_1": ("signed_append_1", "raw_append_1"),
          "actor_check_append_1": ("signed_append_1", "signed_append_1_without_actor_check"),
          "append_100": ("signed_append_100", "raw_append_100"),
          "verification": ("verification", "verify_limit")}
TINY = {"events": 200, "single": 16, "rounds": 2, "warmup": 8, "verify_runs": 1, "raw_verify_seconds": 0.05}


def check_figures(result: dict, backend: str, warmup: int = TINY["warmup"]) -> None:
    json.loads(json.dumps(result))  # JSON all the way down
    for key in ("machine", "python", "backend", "cores", "rates", "ratios", "targets",
                "meets_target", "events", "verify_ok"):
        assert key in result, key
    assert result["backend"] == backend
    assert result["cores"] >= 1
    assert result["verify_ok"] is True
    events = result["events"]
    # Every signed save is in the verified log: the warm-up's, the measured rounds', the setup's.
    assert events["warmup_saves"] == warmup
    assert events["verified"] >= events["per_save_100"] + events["one_per_save"] + events["warmup_saves"]
    rates = result["rates"]
    assert set(rates) == set(RATES)
    assert all(rates[k] > 0 for k in RATES), rates
    assert rates["verify_limit"] == pytest.approx(rates["ed25519_verify_1core"] * result["cores"], rel=1e-3)
    assert result["targets"] == TARGETS
    for name, (num, den) in RATIOS.items():
        ratio = result["ratios"][name]
        assert ratio > 0
        assert ratio == pytest.approx(rates[num] / rates[den], rel=2e-3, abs=2e-3)
        if name in TARGETS:
            assert result["meets_target"][name] is (ratio >= TARGETS[name])
    assert set(result["meets_target"]) == {*TARGETS, "all"}  # the actor check's ratio has none
    assert result["meets_target"]["all"] is all(result["meets_target"][k] for k in TARGETS)


def test_bench_on_a_temporary_sqlite_file() -> None:
    result = run_bench(None, **TINY)
    check_figures(result, "sqlite")
    assert result["analysed"] == []


def test_verification_and_the_raw_verify_rate_are_measured_in_interleaved_rounds() -> None:
    said: list[str] = []
    result = run_bench(None, **{**TINY, "verify_runs": 2}, progress=said.append)
    check_figures(result, "sqlite")
    rounds = [line for line in said if "events/s verified" in line]
    assert [line.split(":")[0].strip() for line in rounds] == ["round 1/2", "round 2/2"]
    assert "2 interleaved rounds" in result["method"]


def test_writers_take_turns_each_first_in_turn() -> None:
    order: list[str] = []

    class Writer:
        def __init__(self, name: str) -> None:
            self.name = name

        def run(self, saves: int, per_save: int) -> None:
            order.append(f"{self.name}{saves}x{per_save}")

    _interleaved([Writer("a"), Writer("b"), Writer("c")], 24, 1, 4, lambda _: None)
    assert order == ["a6x1", "b6x1", "c6x1", "b6x1", "c6x1", "a6x1",
                     "c6x1", "a6x1", "b6x1", "a6x1", "b6x1", "c6x1"]


def test_bench_command_json_on_a_new_sqlite_file_removes_what_it_made(tmp_path: Path) -> None:
    db = tmp_path / "bench.sqlite3"
    result = CliRunner().invoke(bench_command, ["--no-read-models", "--db", f"sqlite:///{db}", "--events", "100",
                                      "--single", "8", "--warmup", "3", "--json"])
    assert result.exit_code == 0, result.output
    check_figures(json.loads(result.stdout), "sqlite", warmup=3)
    assert list(tmp_path.iterdir()) == []  # the ledger and the raw baseline files are gone


def test_bench_command_prints_a_table() -> None:
    result = CliRunner().invoke(bench_command, ["--no-read-models", "--events", "100", "--single", "8"])
    assert result.exit_code == 0, result.output
    assert "signed/raw, 100 per save" in result.stdout
    assert "signed/signed without the actor check" in result.stdout
    assert "verification/limit" in result.stdout


def test_bench_refuses_a_database_that_holds_data(tmp_path: Path) -> None:
    db = tmp_path / "real.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE precious (x)")
        conn.execute("INSERT INTO precious VALUES (1)")
    with pytest.raises(BenchDatabaseNotEmptyError):
        run_bench(f"sqlite:///{db}", **TINY)
    result = CliRunner().invoke(bench_command, ["--no-read-models", "--db", f"sqlite:///{db}"])
    assert result.exit_code == 1
    assert "only writes into a new or empty database" in result.output
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT x FROM precious").fetchall() == [(1,)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real.sqlite3"]


def test_bench_on_postgresql_drops_its_schemas() -> None:
    require_postgres()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    result = run_bench(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test?schema={schema}", **TINY)
    check_figures(result, "postgresql")
    assert [t.rsplit(".", 1)[1] for t in result["analysed"]] == [
        "pmo_ledger_events", "ledger_chain", "pmo_ledger_snapshots"]
    left = pg_admin("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (f"{schema}%",))
    assert left == []


def test_bench_refuses_a_postgresql_schema_that_holds_tables() -> None:
    require_postgres()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    pg_admin(f'CREATE SCHEMA "{schema}"')
    try:
        pg_admin(f'CREATE TABLE "{schema}".precious (x int)')
        with pytest.raises(BenchDatabaseNotEmptyError):
            run_bench(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test?schema={schema}", **TINY)
        assert pg_admin(f'SELECT count(*) FROM "{schema}".precious') == [(0,)]
        assert pg_admin("SELECT 1 FROM pg_namespace WHERE nspname = %s", (f"{schema}_raw",)) == []
    finally:
        pg_admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_bench_command_measures_the_read_models_in_the_same_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read-model figures come with their raw baseline and the ratio computed from them.
    Seeded with the test cast instead of the demo portfolio (the command seeds the demo;
    tests/readmodels/test_bench.py measures the same code on its own)."""
    import functools

    import tools.bench.readmodels

    monkeypatch.setattr(tools.bench.readmodels, "run_readmodel_bench", functools.partial(
        tools.bench.readmodels.run_readmodel_bench, portfolio=False))
    db = tmp_path / "rm.sqlite3"
    result = CliRunner().invoke(bench_command, ["--db", f"sqlite:///{db}", "--events", "100",
                                      "--single", "8", "--project-events", "200", "--json"])
    assert result.exit_code == 0, result.output
    rm = json.loads(result.stdout)["read_models"]
    rates, ratios = rm["rates"], rm["ratios"]
    assert rm["events"] > 200 and rates["raw_read_decode"] > 0 and rates["rebuild_tables"] > 0
    assert ratios["rebuild_tables"] == pytest.approx(rates["rebuild_tables"] / rates["raw_read_decode"])
    assert rm["as_of"]["project_events"] >= 200 and rm["as_of"]["seconds_worst"] > 0
    assert not db.exists(), "the benchmark removes what it created"


def test_analyse_gathers_postgresql_statistics_and_leaves_sqlite_alone(ledger: tuple) -> None:
    app, root = ledger
    for i in range(3):
        app.register_key(Signer.generate(f"k{i}").public_bytes, f"k{i}", by=root, actor_id="ledger-root",
                         actor_name="Root", reason="statistics")
    tables = analyse(app)
    if app.backend.kind == "sqlite":
        assert tables == []
        assert app.recorder.fetch("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'") == []
        return
    schema = app.backend.url.split("schema=")[1]
    assert [t.split(".")[1].strip('"') for t in tables] == [
        app.recorder.events_table_name, "ledger_chain", app.snapshots.recorder.events_table_name]
    analysed = pg_admin("SELECT relname FROM pg_stat_user_tables WHERE schemaname = %s "
                        "AND last_analyze IS NOT NULL ORDER BY relname", (schema,))
    assert sorted(r[0] for r in analysed) == sorted(t.split(".")[1].strip('"') for t in tables)
