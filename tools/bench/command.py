"""`pmo-ledger bench`: the ledger's append and verification speed against its limits."""

from __future__ import annotations

import json
import sys

import click

from ledger.errors import LedgerError
from tools.bench.ledger import DEFAULT_EVENTS, DEFAULT_SINGLE, WARMUP, format_table, run_bench


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
@click.option("--warmup", type=click.IntRange(min=0), default=WARMUP, show_default=True,
              help="Unmeasured one-event saves by each application first (a new SQLite "
                   "file's write-ahead log grows to its working size meanwhile).")
@click.option("--read-models/--no-read-models", default=True, show_default=True,
              help="Also measure the read models: rebuild vs raw read-and-decode, and as-of "
                   "replay of one long project (seeds the demo portfolio first).")
@click.option("--project-events", type=click.IntRange(min=100), default=10_000, show_default=True,
              help="Events in the long project replayed 'as of'.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_command(db_url: str | None, events: int, single: int, warmup: int,
                  read_models: bool, project_events: int, as_json: bool) -> None:
    """Measure raw vs signed+chained append rates, verification vs the Ed25519 limit, and
    read-model rebuild vs the library's raw read-and-decode, all in one run."""
    say = lambda message: click.echo(message, err=True)  # noqa: E731
    try:
        result = run_bench(db_url, events=events, single=single, warmup=warmup, progress=say)
        if read_models:
            result["read_models"] = _read_model_figures(db_url, project_events, say)
    except LedgerError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    click.echo(json.dumps(result, indent=2, default=str) if as_json else _table(result))
    if not result["verify_ok"]:
        click.echo("error: the benchmark's own log did not verify clean", err=True)
        sys.exit(1)


def _read_model_figures(db_url: str | None, project_events: int, say) -> dict:  # noqa: ANN001
    """The read-model figures, on a scratch database of the same backend (removed after)."""
    import secrets

    from domain.services import PMOApplication
    from ledger.application import init_ledger
    from tools.bench.ledger import scratch_databases
    from tools.bench.readmodels import run_readmodel_bench

    scratch = scratch_databases(db_url)
    try:
        passphrase = secrets.token_hex(16)
        app, root = init_ledger(scratch.ledger_url, passphrase, app_class=PMOApplication)
        try:
            return run_readmodel_bench(app, root, passphrase, project_events=project_events,
                                       progress=say)
        finally:
            app.close()
    finally:
        scratch.remove()


def _table(result: dict) -> str:
    text = format_table(result)
    rm = result.get("read_models")
    if rm:
        text += "\nread models:\n" + "\n".join(f"  {k}: {v}" for k, v in rm.items())
    return text
