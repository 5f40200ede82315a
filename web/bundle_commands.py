"""`pmo-ledger export FILE` and `pmo-ledger verify-bundle FILE` (registered in web/cli.py).

Imports from web.cli happen inside the commands, so this module can be imported first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ledger.backend import DB_ENV, resolve_url
from ledger.errors import LedgerError
from web.progress import Progress


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.command("export")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--db", "db_url", envvar=DB_ENV, default=None,
              help=f"Database URL (sqlite:///file.db or postgresql://user@host:port/db); default ${DB_ENV} or instance/.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def export_command(file: Path, db_url: str | None, force: bool) -> None:
    """Write the evidence bundle (records, keys, latest checkpoint, FORMAT.md) to FILE.

    When the ledger holds no checkpoint yet, one is signed with the root key (this needs
    PMO_LEDGER_PASSPHRASE) and stored once the bundle is written. Nothing is written on
    failure.
    """
    from ledger.application import open_ledger
    from ledger.bundle import export_bundle, latest_checkpoint
    from ledger.keys import configured_passphrase

    if file.is_dir():
        _fail(f"{file} is a directory; give the bundle's file name", 1)
    if file.exists() and not force:
        _fail(f"{file} already exists; refusing to overwrite it (use --force)", 1)
    app = None
    try:
        app = open_ledger(resolve_url(db_url, "instance"))
        root = None
        if latest_checkpoint(app) is None:
            try:
                root = app.root_signer(configured_passphrase())
            except LedgerError as e:
                raise LedgerError(f"the ledger holds no checkpoint, and signing one needs the root key: {e}") from None
        result = export_bundle(app, file, Progress("exporting"), root_signer=root, overwrite=force)
    except LedgerError as e:
        _fail(str(e), 1)
    finally:
        if app is not None:
            app.close()
    m = result.manifest
    click.echo(f"wrote {result.path}: {m['records']} records, {m['keys']} keys, "
               f"checkpoint of size {m['checkpoint_size']}"
               + (" (signed now and stored in the ledger)" if result.new_checkpoint else ""))
    click.echo(f"origin: {m['origin']}")
    click.echo(f"root key fingerprint: {m['root_key_id']}")


@click.command("verify-bundle")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--root-key", default=None, help="Pinned root key fingerprint (printed by `pmo-ledger init`).")
@click.option("--workers", type=int, default=None, help="Processes to use (default: all cores).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_bundle_command(file: Path, root_key: str | None, workers: int | None, as_json: bool) -> None:
    """Verify an evidence bundle with no database; exit 0 only when clean.

    Exit status: 0 clean, 1 faults found, 2 not a readable, complete bundle.
    """
    from ledger.bundle import verify_bundle

    try:
        report = verify_bundle(file, root_key, Progress("verifying", quiet=as_json), workers=workers)
    except LedgerError as e:
        _fail(str(e), 2)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        for f in report.faults:
            where = f"position {f.position}" if f.position is not None else "no position"
            who = f" {f.originator_id} v{f.version}" if f.originator_id else ""
            click.echo(f"FAULT {f.kind} at {where}{who}: {f.detail}")
        verdict = "clean" if report.ok else f"{len(report.faults)} fault(s)"
        covered = (f"checkpoint of size {report.checkpoint_size}" if report.checkpoint_size is not None
                   else "no readable checkpoint")
        click.echo(f"bundle {file}: {report.events} records, {covered}, root key {report.root_key_id}, "
                   f"head {report.head.hex()}: {verdict} ({report.seconds:.2f}s, {report.workers} worker(s))")
        if report.ok and not root_key:
            click.echo("note: compare the root key with the fingerprint printed at `pmo-ledger init`, "
                       "or pass --root-key", err=True)
    sys.exit(0 if report.ok else 1)
