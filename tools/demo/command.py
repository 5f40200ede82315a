"""`pmo-ledger demo`: seed the demo city IT portfolio (tools/demo/seed.py), then verify it.

Registered through the `pmo_ledger.commands` entry-point group (pyproject.toml; loaded
by web/cli.py), so the product never imports this tooling.
"""

from __future__ import annotations

import os
import time

import click

from domain.errors import DomainError
from domain.services import PMOApplication
from ledger.application import init_ledger, open_ledger
from ledger.backend import resolve_url
from ledger.errors import LedgerError, NotInitialisedError
from ledger.keys import DEMO_PASSPHRASE, PASSPHRASE_ENV, configured_passphrase
from ledger.verify import verify_database
from tools.demo.seed import DEMO_PEOPLE, demo_present, seed_demo
from web.cli import db_option, fail, print_report
from web.progress import Progress


@click.command("demo")
@db_option
@click.option("--password", default="demo", help="Password for the demo users.")
def demo_command(db_url: str | None, password: str) -> None:
    """Seed the demo city IT portfolio (10,000+ signed events), then verify the log.

    Creates the ledger when there is none; does nothing when the demo is already there."""
    if not os.environ.get(PASSPHRASE_ENV):
        os.environ[PASSPHRASE_ENV] = DEMO_PASSPHRASE
        click.echo(f"DEMO ONLY: key passphrase is {DEMO_PASSPHRASE!r}; set {PASSPHRASE_ENV} in production", err=True)
    if len(password) < 4:
        fail("--password needs at least 4 characters")
    passphrase = configured_passphrase()
    url = resolve_url(db_url, "instance")
    root = None
    try:
        try:
            app = open_ledger(url, app_class=PMOApplication)
        except NotInitialisedError:
            app, root = init_ledger(url, passphrase, app_class=PMOApplication)
            click.echo(f"ledger created at {url}")
    except LedgerError as e:
        fail(str(e))
    try:
        if demo_present(app):
            click.echo(f"{url} already holds the demo portfolio ({app.size()} events); nothing to do")
            return
        if app.size() > 1:
            fail(f"{url} holds {app.size()} events that are not the demo portfolio "
                 "(another ledger, or an interrupted seeding); use an empty database")
        root = root or app.root_signer(passphrase)
        started = time.perf_counter()
        summary = seed_demo(app, root, passphrase=passphrase, password=password,
                            progress=Progress("seeding"))
        click.echo(f"seeded {len(summary['projects'])} projects, {summary['events']} events "
                   f"in {time.perf_counter() - started:.1f}s")
        click.echo(f"\ndemo users (password {password!r}):")
        click.echo(f"  {'username':<10} {'name':<18} {'role':<8} title")
        for username, name, role, title in DEMO_PEOPLE:
            click.echo(f"  {username:<10} {name:<18} {role:<8} {title}")
        click.echo(f"\nroot key fingerprint (pin this): {app.keyring().root_key_id}")
        report = verify_database(app, progress=Progress("verifying"),
                                 snapshot_progress=Progress("checking snapshots"))
    except (LedgerError, DomainError) as e:
        fail(str(e))
    finally:
        app.close()
    if not report.ok:
        print_report(report, as_json=False)
        fail("verification found faults in the freshly seeded log")
    click.echo(f"verification: clean ({report.events} events, head {report.head.hex()[:16]}..., "
               f"{report.seconds:.1f}s)")
