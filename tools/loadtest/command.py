"""`pmo-ledger loadtest`: the bounded load test of tools/loadtest (an entry point: pyproject.toml)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

ROWS = ("reads", "submissions", "approvals", "baseline")


@click.command("loadtest")
@click.option("--backend", type=click.Choice(["sqlite", "postgresql"]), default="sqlite", show_default=True,
              help="A fresh SQLite file, or a fresh schema on --pg-admin.")
@click.option("--db", default=None, help="Use this database as it is instead (seeded if empty).")
@click.option("--password", default=None,
              help="The password the --db ledger's people sign in with (default: the one the load test seeds).")
@click.option("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/test", show_default=True,
              help="PostgreSQL database the fresh schema is created in (and dropped from).")
@click.option("--users", default=16, type=click.IntRange(1, 500), show_default=True,
              help="Concurrent clients.")
@click.option("--seconds", default=60.0, type=click.FloatRange(1, 3600), show_default=True)
@click.option("--workers", default=4, type=click.IntRange(1, 64), show_default=True,
              help="gunicorn worker processes.")
@click.option("--threads", default=4, type=click.IntRange(1, 64), show_default=True,
              help="Threads per worker.")
@click.option("--think", default=0.0, type=click.FloatRange(0, 60), show_default=True,
              help="Each client waits up to this many seconds between requests (0: none).")
@click.option("--restart-postgres", "restart_postgres", default=None, metavar="VERSION",
              help="Restart the real cluster mid-run: pg_ctlcluster --skip-systemctl-redirect "
                   "VERSION main restart. Never where others use that PostgreSQL.")
@click.option("--restart-at", type=float, default=None, help="Seconds into the load (default: halfway).")
@click.option("--keep", is_flag=True, help="Keep the PostgreSQL schema afterwards.")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the logs (and the SQLite file) go; default a new temporary folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
def loadtest_command(backend: str, db: str | None, password: str | None, pg_admin: str, users: int, seconds: float,
                     workers: int, threads: int, think: float, restart_postgres: str | None,
                     restart_at: float | None, keep: bool, folder: Path | None, as_json: bool) -> None:
    """Load the served app (seeded demo, 70% reads / 30% writes), then verify and rebuild; exit 0 when clean."""
    try:
        import locust  # noqa: F401 - checked here, used by the runner's own process
    except ImportError:
        click.echo("error: locust is not installed (pip install -e '.[test]')", err=True)
        sys.exit(2)
    from tools.loadtest.driver import PASSWORD, Options, run_load

    report = run_load(Options(
        backend=backend, db=db, pg_admin=pg_admin, users=users, seconds=seconds, workers=workers,
        threads=threads, think_seconds=(0.0, think), restart_postgres=restart_postgres,
        restart_at=restart_at, keep=keep, folder=folder, password=password or PASSWORD))
    click.echo(json.dumps(report, indent=2, default=str) if as_json else summary(report))
    sys.exit(0 if report["ok"] else 1)


def summary(report: dict[str, Any]) -> str:
    """The figures as a table, then the verdicts."""
    cats = report["categories"]
    lines = [f"{report['backend']}: {report['users']} clients for {report['seconds']}s, "
             f"{report['options']['workers']} workers; load average "
             f"{report['machine']['load_average_before']} -> {report['machine']['load_average_after']}",
             f"{'category':<12} {'requests':>8} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8} "
             f"{'p99 ms':>8} {'errors':>6}"]
    for name in ROWS:
        c = cats.get(name)
        if c:
            lines.append(f"{name:<12} {c['requests']:>8} {c['per_second']:>8} {c['p50_ms']:>8} "
                         f"{c['p95_ms']:>8} {c['p99_ms']:>8} {c['errors']:>6}")
    audit, log = report["audit"], report["log"]
    lines += [
        f"mix: {report['mix']}",
        f"log: {log['size_before']} -> {log['size_after']} events, {log['acknowledged_writes']} "
        f"acknowledged writes, {log['unacknowledged_events']} unaccounted",
        f"verify: {'clean' if audit['verify']['ok'] else 'FAULTS'}; acknowledged missing: "
        f"{audit['missing_count']}; unchained: {len(audit['unchained'])}; read models equal a "
        f"rebuild: {audit['read_models']['equal']}",
        f"writes sent again: {log.get('repeats_sent', 0)} (answered from their key: "
        f"{log.get('repeats_answered_from_key', 0)}); answered with an error but recorded: "
        f"{len(audit.get('refused_recorded', []))}; recorded twice: {len(audit.get('written_twice', []))}",
        f"goal: zero errors {report['goal']['zero_errors']}, submissions p95 "
        f"{report['goal']['submissions_p95_ms']} ms (< 150: {report['goal']['submissions_p95_under_150ms']})",
    ]
    if "postgres_restart" in report:
        lines.append(f"postgres restart: {report['postgres_restart']}")
    lines.append("OK" if report["ok"] else "FAILED")
    return "\n".join(lines)
