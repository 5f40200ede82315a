"""`pmo-ledger bench`: the ledger's append and verification speed against its limits."""

from __future__ import annotations

import json
import sys

import click

from ledger.bench import DEFAULT_EVENTS, DEFAULT_SINGLE, format_table, run_bench
from ledger.errors import LedgerError


@click.command("bench")
@click.option(
    "--db", "db_url", default=None,
    help="A NEW or EMPTY database to measure on (sqlite:///file.db or "
         "postgresql://user@host:port/db?schema=NAME); default: a temporary SQLite file. "
         "A database holding any table is refused; what the benchmark creates is removed.",
)
@click.option("--events", type=click.IntRange(min=100), default=DEFAULT_EVENTS, show_default=True,
              help="Events appended 100 per save (the log then verified holds about this many).")
@click.option("--single", type=click.IntRange(min=8), default=DEFAULT_SINGLE, show_default=True,
              help="Events appended one per save.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_command(db_url: str | None, events: int, single: int, as_json: bool) -> None:
    """Measure raw vs signed+chained append rates and verification vs the Ed25519 limit."""
    try:
        result = run_bench(db_url, events=events, single=single,
                           progress=lambda message: click.echo(message, err=True))
    except LedgerError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    click.echo(json.dumps(result, indent=2) if as_json else format_table(result))
    if not result["verify_ok"]:
        click.echo("error: the benchmark's own log did not verify clean", err=True)
        sys.exit(1)
