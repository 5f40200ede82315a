"""`pmo-ledger export FILE`, `verify-bundle FILE` and `import FILE` (registered in web/cli.py).

Imports from web.cli happen inside the commands, so this module can be imported first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ledger.backend import DB_ENV, resolve_url
from ledger.errors import BundleFormatError, LedgerError
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
    from ledger.bundle.export import export_bundle, latest_checkpoint
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
    from ledger.bundle.check import verify_bundle

    try:
        report = verify_bundle(file, root_key, Progress("verifying", quiet=as_json), workers=workers)
    except LedgerError as e:
        if as_json:  # still one JSON document on standard output (FORMAT.md §12)
            click.echo(json.dumps({"ok": None, "error": {"code": e.code, "message": str(e)}}))
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


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--db", "db_url", envvar=DB_ENV, default=None,
              help=f"Database URL of an EMPTY database (sqlite:///new-file.db or "
                   f"postgresql://user@host:port/db?schema=name); default ${DB_ENV} or instance/.")
@click.option("--root-key", default=None, help="Pinned root key fingerprint the bundle must have.")
@click.option("--workers", type=int, default=None, help="Processes verifying (default: all cores).")
def import_command(file: Path, db_url: str | None, root_key: str | None, workers: int | None) -> None:
    """Restore a ledger from an evidence bundle into an empty database, then build its read models.

    The bundle must verify clean and the database must be empty, else nothing is written.
    Every record keeps its signature; the head hash and Merkle root come out the same.
    Private keys and user credentials are not in a bundle: see README, "Backup and restore".
    """
    from domain.services import PMOApplication
    from ledger.restore import import_bundle

    url = resolve_url(db_url, "instance")
    try:
        result = import_bundle(
            file, url, app_class=PMOApplication, pinned_root=root_key, workers=workers,
            verify_progress=Progress("verifying bundle"), progress=Progress("importing"),
            check_progress=Progress("verifying import"),
        )
    except BundleFormatError as e:
        _fail(str(e), 2)
    except LedgerError as e:
        _fail(str(e), 1)
    click.echo(f"imported {file} into {result.target}: {result.size} records, "
               f"{result.checkpoints} checkpoint(s), verified clean ({result.seconds:.1f}s)")
    click.echo(f"origin: {result.origin}")
    click.echo(f"root key fingerprint: {result.root_key_id}")
    click.echo(f"size: {result.size}")
    click.echo(f"head: {result.head.hex()}")
    click.echo(f"merkle root: {result.root.hex()}")
    _build_read_models(url)
    click.echo("note: no private signing keys or user credentials came with the bundle; to record "
               "new acts, restore them with `pmo-ledger keys import` (see README)", err=True)


def _build_read_models(url: str) -> None:
    """Build the restored ledger's read models from position 1 (through their public API)."""
    from eventsourcing.persistence import PersistenceError

    from domain.errors import DomainError
    from domain.readmodels import ReadModels
    from domain.services import PMOApplication
    from ledger.application import open_ledger
    from ledger.integrity import monitor_for
    from ledger.keys import usable_cpus

    app = None
    try:
        app = open_ledger(url, app_class=PMOApplication)
        # The import verified the ledger once; the monitor remembers it from here on, on
        # every core and with progress, so the rebuild projects only what passed.
        monitor_for(app).start(Progress("verifying"), workers=usable_cpus())
        done = ReadModels(app).rebuild(Progress("building read models"))
    except (LedgerError, DomainError, PersistenceError) as e:
        _fail(f"the ledger was imported, but building its read models failed: {e}; "
              "run `pmo-ledger projections rebuild`", 1)
    finally:
        if app is not None:
            app.close()
    click.echo(f"read models: built from {done} records")


# The secrets a bundle never carries ---------------------------------------------------------


@click.group("keys")
def keys_group() -> None:
    """Carry the encrypted key store and credential hashes to a restored ledger (SECRET files)."""


def _secret_tables() -> list[tuple[str, tuple[str, ...]]]:
    from domain.services import CREDENTIALS_TABLE, TOKENS_TABLE

    return [(CREDENTIALS_TABLE, ("username", "password_hash")),
            (TOKENS_TABLE, ("token_hash", "token_id", "username", "label", "revoked", "expires_at"))]


def _with_pmo(db_url: str | None, work):  # noqa: ANN001, ANN202
    from eventsourcing.persistence import PersistenceError

    from domain.services import PMOApplication
    from ledger.application import open_ledger

    app = None
    try:
        app = open_ledger(resolve_url(db_url, "instance"), app_class=PMOApplication)
        app.create_side_tables()
        return work(app)
    except LedgerError as e:
        _fail(str(e), 1)
    except PersistenceError as e:
        _fail(f"the database could not be read or written: {e}", 1)
    finally:
        if app is not None:
            app.close()


@keys_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", "db_url", envvar=DB_ENV, default=None,
              help=f"Database URL; default ${DB_ENV} or instance/.")
def keys_export_command(file: Path, db_url: str | None) -> None:
    """Write the private keys (still encrypted) and credential hashes to a new SECRET file (mode 0600)."""
    from ledger.secretsfile import export_secrets

    counts = _with_pmo(db_url, lambda app: export_secrets(app, file, _secret_tables()))
    click.echo(f"wrote {file} (SECRET, mode 0600): " + ", ".join(f"{n} {name}" for name, n in counts.items()))


@keys_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", "db_url", envvar=DB_ENV, default=None,
              help=f"Database URL; default ${DB_ENV} or instance/.")
def keys_import_command(file: Path, db_url: str | None) -> None:
    """Restore the private keys and credential hashes of a SECRET file into a restored ledger."""
    from ledger.secretsfile import import_secrets

    counts = _with_pmo(db_url, lambda app: import_secrets(app, file, _secret_tables()))
    click.echo(f"imported {file}: " + ", ".join(f"{n} {name}" for name, n in counts.items()))
