"""Bad input to the `pmo-ledger` command: a clear message on stderr, a non-zero exit, and
nothing written (no SQLite file created, no event, key or checkpoint added)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.verify import make_checkpoint
from tests.conftest import PG_HOST, PG_PORT, pg_admin, require_postgres
from tests.support import PASSPHRASE, snapshot_of_tables

PMO_LEDGER = str(Path(sys.executable).parent / "pmo-ledger")


def run_cli(cwd: Path, *args: str, passphrase: str | None = PASSPHRASE) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin"}
    if passphrase is not None:
        env["PMO_LEDGER_PASSPHRASE"] = passphrase
    return subprocess.run([PMO_LEDGER, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def assert_refused(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0, result.stdout
    assert result.stderr.splitlines()[-1].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    if "--json" in result.args:  # still one JSON document: the error (FORMAT.md §12)
        error = json.loads(result.stdout)["error"]
        assert result.returncode == 2 and error["message"] in result.stderr and error["code"]
    else:
        assert result.stdout == ""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    d = tmp_path / "cwd"
    d.mkdir()
    return d


BAD_URLS = [
    ("mysql://user@host/db", ("unknown backend 'mysql'", "sqlite:///", "postgresql://")),
    ("not a url", ("is not a URL",)),
    ("sqlite:///", ("names no database file",)),
    ("postgresql://user@host:99999/db", ("invalid port",)),
    ("postgresql://postgres@127.0.0.1:5432/test?schema=Robert'); DROP", ("is not a plain lower-case identifier",)),
]


@pytest.mark.parametrize("command,url,words", [
    *((["init"], url, words) for url, words in BAD_URLS),
    (["verify", "--json"], *BAD_URLS[0]),
    (["checkpoint"], *BAD_URLS[0]),
])
def test_bad_backend_url(workdir, command, url, words):
    assert_refused(run_cli(workdir, *command, "--db", url), *words)
    assert list(workdir.iterdir()) == []  # not even instance/


@pytest.mark.parametrize("command", [["init"], ["verify"]])
def test_unreachable_postgresql(workdir, command):
    url = "postgresql://postgres@127.0.0.1:1/test?connect_timeout=1"
    assert_refused(run_cli(workdir, *command, "--db", url), "127.0.0.1:1")
    assert list(workdir.iterdir()) == []


def _tables_in(url: str) -> list[tuple]:
    schema = url.split("schema=")[1]
    return pg_admin("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))


@pytest.mark.parametrize("command", [["verify", "--json"], ["checkpoint"]])
def test_commands_on_a_database_without_a_ledger(backend_url, workdir, command):
    result = run_cli(workdir, *command, "--db", backend_url)
    assert_refused(result, "no ledger", "pmo-ledger init")
    if backend_url.startswith("sqlite"):
        assert not Path(backend_url.removeprefix("sqlite:///")).exists()
    else:
        assert _tables_in(backend_url) == []
    assert list(workdir.iterdir()) == []


def test_init_into_a_missing_postgresql_schema(workdir):
    require_postgres()
    url = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test?schema=t_does_not_exist"
    assert_refused(run_cli(workdir, "init", "--db", url), "t_does_not_exist")
    assert pg_admin("SELECT 1 FROM information_schema.schemata WHERE schema_name = 't_does_not_exist'") == []


def test_wrong_key_passphrase(ledger, backend_url, workdir):
    app, root = ledger
    make_checkpoint(app, root)
    before = snapshot_of_tables(app)
    out = workdir / "cp.note"
    result = run_cli(workdir, "checkpoint", "--db", backend_url, "--out", str(out), passphrase="not the passphrase")
    assert_refused(result, "wrong passphrase", "PMO_LEDGER_PASSPHRASE")
    assert not out.exists()
    assert snapshot_of_tables(app) == before


def test_missing_key_passphrase(ledger, backend_url, workdir):
    app, _ = ledger
    before = snapshot_of_tables(app)
    assert_refused(run_cli(workdir, "checkpoint", "--db", backend_url, passphrase=None), "PMO_LEDGER_PASSPHRASE")
    assert snapshot_of_tables(app) == before


def test_init_without_a_passphrase_creates_nothing(backend_url, workdir):
    assert_refused(run_cli(workdir, "init", "--db", backend_url, passphrase=None), "no key passphrase")
    if backend_url.startswith("sqlite"):
        assert not Path(backend_url.removeprefix("sqlite:///")).exists()
    else:
        assert _tables_in(backend_url) == []


def test_init_twice(ledger, backend_url, workdir):
    app, _ = ledger
    before = snapshot_of_tables(app)
    assert_refused(run_cli(workdir, "init", "--db", backend_url), "already holds a ledger")
    assert snapshot_of_tables(app) == before


def test_init_then_checkpoint_then_verify(backend_url, workdir):
    """The happy path of the same commands, so the refusals above are not vacuous."""
    created = run_cli(workdir, "init", "--db", backend_url)
    assert created.returncode == 0, created.stderr
    assert "root key fingerprint (pin this): " in created.stdout
    fingerprint = created.stdout.split("(pin this): ")[1].split()[0]
    note = workdir / "cp.note"
    cp = run_cli(workdir, "checkpoint", "--db", backend_url, "--out", str(note))
    assert cp.returncode == 0, cp.stderr
    assert note.read_text() == cp.stdout and "\n\n\u2014 pmo-ledger/" in cp.stdout
    ok = run_cli(workdir, "verify", "--db", backend_url, "--checkpoint", str(note), "--root-key", fingerprint)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 events, 2 checkpoint(s) checked" in ok.stdout and "clean" in ok.stdout


def _note_with_bad_signature() -> str:
    from datetime import UTC, datetime

    from ledger import checkpoint as notes
    from ledger.keys import Signer

    cp = notes.Checkpoint("o", 1, bytes(32), bytes(32), datetime.now(UTC))
    return notes.sign(cp, Signer.generate()).split("\n\n")[0] + "\n\n\u2014 o %%%%\n"


@pytest.mark.parametrize("content,message", [
    ("this is not a signed note\n", "not a signed note"),
    # Regression: a signature that is not base64 crashed `verify` with a traceback.
    (_note_with_bad_signature(), "is not base64"),
], ids=["garbage", "signature-not-base64"])
def test_malformed_checkpoint_file_is_a_fault(ledger, backend_url, workdir, content, message):
    bad = workdir / "bad.note"
    bad.write_text(content)
    result = run_cli(workdir, "verify", "--db", backend_url, "--checkpoint", str(bad))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "FAULT bad-checkpoint" in result.stdout and message in result.stdout


def test_missing_checkpoint_file(ledger, backend_url, workdir):
    result = run_cli(workdir, "verify", "--db", backend_url, "--checkpoint", str(workdir / "nope.note"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_pinned_root_key_mismatch(ledger, backend_url, workdir):
    result = run_cli(workdir, "verify", "--db", backend_url, "--root-key", "00" * 32)
    assert result.returncode == 1
    assert "root-key-mismatch" in result.stdout


@pytest.mark.parametrize("command", [["init"], ["verify"], ["checkpoint"]])
def test_a_file_that_is_not_a_database(workdir, command):
    # Regression: this was an unhandled sqlite3.DatabaseError traceback.
    junk = workdir / "junk.db"
    junk.write_bytes(b"not a database, " * 16)
    assert_refused(run_cli(workdir, *command, "--db", f"sqlite:///{junk}"), "cannot open", "not a database")
    assert junk.read_bytes() == b"not a database, " * 16
    assert sorted(p.name for p in workdir.iterdir()) == ["junk.db"]


def test_checkpoint_of_a_tampered_log_is_refused(ledger, backend_url, workdir):
    from tests.support import flip_signature_byte

    app, _ = ledger
    flip_signature_byte(app, 1)
    before = snapshot_of_tables(app)
    out = workdir / "cp.note"
    assert_refused(run_cli(workdir, "checkpoint", "--db", backend_url, "--out", str(out)),
                   "refusing to sign a checkpoint")
    assert not out.exists()
    assert snapshot_of_tables(app) == before


@pytest.mark.parametrize("command", [["verify"], ["demo"], ["checkpoint"]])
def test_a_ledger_in_the_earlier_sqlite_layout_is_named_not_reinitialised(workdir, command):
    """Regression: SQLite used to keep the chain in a separate ledger_chain table. Opening
    such a file must say so, not call it "no ledger" (the demo would then re-init over it)."""
    import sqlite3

    path = workdir / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
               "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))")
    db.execute("CREATE TABLE ledger_chain (position INTEGER PRIMARY KEY, notification_id INTEGER, "
               "originator_id TEXT, originator_version INTEGER, key_id TEXT, signature BLOB, chain_hash BLOB)")
    db.commit()
    db.close()
    before = _dump(path)
    assert_refused(run_cli(workdir, *command, "--db", f"sqlite:///{path}"), "earlier SQLite layout")
    assert _dump(path) == before
    assert {p.name for p in workdir.iterdir()} <= {"old.sqlite3", "old.sqlite3-wal", "old.sqlite3-shm"}


def _dump(path: Path) -> list[str]:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return list(db.iterdump())
    finally:
        db.close()
