"""The `pmo-ledger` command line: a Flask CLI group. Every command takes --db URL.

The tooling's commands (`bench`, `loadtest`, `demo`) live in the `tools` package and are
registered through an entry-point group (`add_tool_commands`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup

from ledger.application import init_ledger, open_ledger
from ledger.backend import DB_ENV, resolve_url
from ledger.errors import LedgerError
from ledger.keys import DEMO_PASSPHRASE, PASSPHRASE_ENV, configured_passphrase
from ledger.verify import make_checkpoint, verify_database
from web.app import create_app
from web.progress import Progress

db_option = click.option(
    "--db", "db_url", envvar=DB_ENV, default=None,
    help=f"Database URL (sqlite:///file.db or postgresql://user@host:port/db); default ${DB_ENV} or instance/.",
)


def _create_app(*_: object) -> object:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def cli() -> None:
    """PMO Ledger: a signed, hash-chained event log for public-sector IT projects."""


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _url(db_url: str | None) -> str:
    return resolve_url(db_url, "instance")


@cli.command("init")
@db_option
def init_command(db_url: str | None) -> None:
    """Create the ledger: tables, root key and key ring; print the root key fingerprint."""
    url = _url(db_url)
    try:
        app, root = init_ledger(url, configured_passphrase())
    except LedgerError as e:
        fail(str(e))
    ring = app.keyring()
    app.close()
    click.echo(f"ledger created at {url}")
    click.echo(f"origin: {ring.origin}")
    click.echo(f"root key fingerprint (pin this): {root.key_id}")


@cli.command("verify")
@db_option
@click.option("--checkpoint", "checkpoints", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A checkpoint note the log must still extend (repeatable).")
@click.option("--root-key", default=None, help="Pinned root key fingerprint to check the log against.")
@click.option("--workers", type=int, default=None, help="Processes to use (default: all cores).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
@click.option("--jsonl", "as_jsonl", is_flag=True,
              help="Stream each fault as a JSON line as it is found, then a summary line (bounded memory).")
@click.option("--skip-snapshots", is_flag=True,
              help="Do not re-derive the stored snapshots from the events (see FORMAT.md for the cost).")
def verify_command(db_url: str | None, checkpoints: tuple[str, ...], root_key: str | None,
                   workers: int | None, as_json: bool, as_jsonl: bool, skip_snapshots: bool) -> None:
    """Check every signature, chain link and checkpoint; exit 0 clean, 1 faults, 2 could not run."""
    if as_json and as_jsonl:
        fail("--json and --jsonl are two forms of the same report: give one", 2)
    machine = as_json or as_jsonl
    on_fault = (lambda f: click.echo(json.dumps(f.as_dict()))) if as_jsonl else None
    app = None
    try:
        notes = [Path(p).read_text() for p in checkpoints]
        app = open_ledger(_url(db_url))
        report = verify_database(app, skip_snapshots=skip_snapshots, extra_checkpoints=notes,
                                 pinned_root=root_key, workers=workers,
                                 progress=Progress("verifying", quiet=False), on_fault=on_fault,
                                 snapshot_progress=Progress("checking snapshots", quiet=False))
    except Exception as e:  # noqa: BLE001 - could not run: said as such (exit 2), never a traceback
        code = e.code if isinstance(e, LedgerError) else "could-not-run"
        message = str(e) if isinstance(e, LedgerError) else f"{type(e).__name__}: {e}"
        if machine:
            click.echo(json.dumps({"ok": None, "error": {"code": code, "message": message}}))
        fail(message, 2)
    finally:
        if app is not None:
            app.close()
    if as_jsonl:
        summary = report.as_dict()
        del summary["faults"]
        click.echo(json.dumps(summary))
    else:
        print_report(report, as_json)
    sys.exit(0 if report.ok else 1)


def print_report(report, as_json: bool) -> None:  # noqa: ANN001
    """A verification report as `verify` prints it (also the demo command's, tools/demo)."""
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    for f in report.faults:
        where = f"position {f.position}" if f.position is not None else "no position"
        who = f" {f.originator_id} v{f.version}" if f.originator_id else ""
        click.echo(f"FAULT {f.kind} at {where}{who}: {f.detail}")
    verdict = "clean" if report.ok else f"{report.fault_count} fault(s)"
    click.echo(f"{report.events} events, {report.checkpoints_checked} checkpoint(s) checked, "
               f"head {report.head.hex()}: {verdict} ({report.seconds:.2f}s, {report.workers} worker(s))")


@cli.command("checkpoint")
@db_option
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Also write the note to this file.")
def checkpoint_command(db_url: str | None, out: str | None) -> None:
    """Verify the log, then sign a checkpoint (C2SP signed note) with the root key."""
    try:
        app = open_ledger(_url(db_url))
        root = app.root_signer(configured_passphrase())
        text, _ = make_checkpoint(app, root, progress=Progress("verifying"))
        app.close()
    except LedgerError as e:
        fail(str(e))
    if out:
        Path(out).write_text(text)
    click.echo(text, nl=False)


@cli.command("serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
@click.option("--workers", default=2, type=click.IntRange(1, 64), show_default=True,
              help="Worker processes (gunicorn); each opens its own database connections.")
@click.option("--threads", default=4, type=click.IntRange(1, 64), show_default=True,
              help="Threads per worker.")
@click.option("--secure-cookies", "secure_cookies", is_flag=True, default=None,
              help="Always mark the session cookie Secure (behind a TLS proxy that does not "
                   "send X-Forwarded-Proto); default: only over HTTPS, or $PMO_LEDGER_SECURE_COOKIES=1.")
def serve_command(db_url: str | None, host: str, port: int, workers: int, threads: int,
                  secure_cookies: bool | None) -> None:
    """Serve the web app under gunicorn (the read models are brought up to date first).

    Users sign with the keys the server holds, encrypted under $PMO_LEDGER_PASSPHRASE;
    on the demo portfolio without it, the printed demo passphrase is used. SIGTERM stops
    it gracefully; a worker that dies is replaced."""
    import os

    from web.serve import serve

    # PostgreSQL: check a pooled connection before lending it, so once the server is back
    # after a restart no request fails on a connection that died meanwhile.
    os.environ.setdefault("POSTGRES_PRE_PING", "y")
    app = create_app({"LEDGER_DB": _url(db_url), "SECURE_COOKIES": secure_cookies})
    _prepare(app)
    click.echo(f"serving {app.config['LEDGER_DB']} on http://{host}:{port}/ "
               f"({workers} worker(s) x {threads} thread(s))", err=True)
    serve(app, host=host, port=port, workers=workers, threads=threads)


def _prepare(app: Flask) -> None:
    """Before the workers fork: unlock the demo's keys, catch the read models up, create
    the rate limit's table; then close the ledger, so no connection crosses the fork."""
    import os

    from eventsourcing.persistence import PersistenceError

    from domain.demo_ledger import demo_present
    from domain.errors import DomainError
    from ledger.integrity import monitor_for
    from ledger.keys import usable_cpus
    from web.ledger_access import close_ledger, get_pmo, get_read_models
    from web.throttle import throttle

    try:
        pmo = get_pmo(app)
        if not os.environ.get(PASSPHRASE_ENV) and demo_present(pmo):
            os.environ[PASSPHRASE_ENV] = DEMO_PASSPHRASE
            click.echo(f"DEMO ONLY: signing keys unlocked with the demo passphrase; set {PASSPHRASE_ENV}", err=True)
        # Verified first (from the remembered position, else from 1 on every core), with
        # progress, so that the read models' catch-up only projects what passed.
        monitor_for(pmo).start(Progress("verifying"), workers=usable_cpus())
        get_read_models(app).catch_up(Progress("updating read models"))
        throttle(app)
    except (LedgerError, DomainError, PersistenceError) as e:
        fail(str(e))
    finally:
        close_ledger(app)


from web.bundle_commands import export_command, import_command, keys_group, verify_bundle_command  # noqa: E402

cli.add_command(export_command)
cli.add_command(import_command)
cli.add_command(keys_group)
cli.add_command(verify_bundle_command)

from web.report_commands import COMMANDS as REPORT_COMMANDS  # noqa: E402

for _command in REPORT_COMMANDS:  # report, compliance, replay, projections
    cli.add_command(_command)

from web.token_commands import tokens_group  # noqa: E402

cli.add_command(tokens_group)


# Commands that are tooling, not the product (`bench`, `loadtest`, `demo`: the top-level
# `tools` package), come in through this entry-point group (pyproject.toml), so that no
# runtime package imports `tools`. Loaded by `main`, not on import: the tools' modules
# import this one, and one imported first must not find itself half-made.
TOOL_COMMANDS = "pmo_ledger.commands"


def add_tool_commands(group: click.Group) -> None:
    """Register every command of the TOOL_COMMANDS entry-point group on `group`; one that
    fails to load fails loudly, rather than the command silently going missing."""
    from importlib.metadata import entry_points

    for entry in entry_points(group=TOOL_COMMANDS):
        group.add_command(entry.load(), entry.name)


def main() -> None:
    add_tool_commands(cli)
    cli(prog_name="pmo-ledger")
