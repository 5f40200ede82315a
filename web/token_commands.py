"""`pmo-ledger tokens list [--user U]` and `pmo-ledger tokens revoke ID` (registered in
web/cli.py): the API's bearer tokens, from the command line.

Whoever can write the ledger's database is trusted here as an administrator is (as with
`keys import`); revoking writes to the tokens side table, never to the log, and takes
effect at once: the next API request with the token is answered 401.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ledger.backend import DB_ENV, resolve_url

T = TypeVar("T")

db_option = click.option(
    "--db", "db_url", envvar=DB_ENV, default=None,
    help=f"Database URL (sqlite:///file.db or postgresql://user@host:port/db); default ${DB_ENV} or instance/.")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _with_pmo(db_url: str | None, work: Callable[[Any], T]) -> T:
    from eventsourcing.persistence import PersistenceError

    from domain.errors import DomainError
    from domain.services import PMOApplication
    from ledger.application import open_ledger
    from ledger.errors import LedgerError

    app = None
    try:
        app = open_ledger(resolve_url(db_url, "instance"), app_class=PMOApplication)
        return work(app)
    except (LedgerError, DomainError) as e:
        _fail(str(e))
    except PersistenceError as e:
        _fail(f"the database could not be read or written: {e}")
    finally:
        if app is not None:
            app.close()
    raise AssertionError("unreachable")  # pragma: no cover - _fail exits


@click.group("tokens")
def tokens_group() -> None:
    """List and revoke the API's bearer tokens."""


@tokens_group.command("list")
@click.option("--user", "username", default=None, help="Only this person's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print the tokens as one JSON document.")
@db_option
def list_command(username: str | None, as_json: bool, db_url: str | None) -> None:
    """Every token (id, owner, label, expiry, status); never the token itself."""
    rows = _with_pmo(db_url, lambda app: app.api_tokens(username))
    if as_json:
        click.echo(json.dumps([{**r, "expires_at": _when(r["expires_at"], None)} for r in rows],
                              indent=2))
        return
    click.echo(f"{'id':<16}  {'user':<12}  {'status':<8}  {'expires (UTC)':<20}  label")
    for r in rows:
        click.echo(f"{r['token_id']:<16}  {r['username']:<12}  {r['status']:<8}  "
                   f"{_when(r['expires_at'], 'never'):<20}  {r['label']}")


@tokens_group.command("revoke")
@click.argument("token_id")
@db_option
def revoke_command(token_id: str, db_url: str | None) -> None:
    """Revoke token ID at once (exit 1 if there is no such token)."""

    def revoke(app: Any) -> tuple[str, bool]:
        owner = app.api_token_owner(token_id)  # NotFoundError: "no API token ID"
        was = next(r["status"] for r in app.api_tokens(owner) if r["token_id"] == token_id)
        app.revoke_api_token_as_operator(token_id)
        return owner, was == "revoked"

    owner, already = _with_pmo(db_url, revoke)
    click.echo(f"token {token_id} of {owner} " + ("was already revoked" if already else "revoked"))


def _when(moment: Any, default: str | None) -> str | None:
    return default if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
