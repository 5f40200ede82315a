"""Backup and restore: `pmo-ledger export`, then `pmo-ledger import` into an empty database,
SQLite -> PostgreSQL and back, gives the same log (verify clean, same size, head hash,
Merkle root and checkpoint) and the same read models; bad input is refused with a clear
message, a non-zero exit, and nothing written. The recorders' `insert_presigned` refuses
records that do not continue the chain."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from domain.services import PMOApplication
from ledger.application import init_ledger, ledger_size, open_ledger
from ledger.backend import parse_url
from ledger.bundle.export import export_bundle
from ledger.bundle.source import BundleSource
from ledger.errors import LedgerError
from ledger.restore import ImportRefusedError, import_bundle
from tests.conftest import DEMO_PW, PG_HOST, PG_PORT, copy_demo, pg_admin, require_postgres
from tests.domain.helpers import PW, World, enrol_cast
from tests.support import count_chain, count_events, snapshot_of_tables

pytestmark = pytest.mark.slow  # started first: see tests/conftest.py

PMO_LEDGER = str(Path(sys.executable).parent / "pmo-ledger")
READ_MODEL_COMMANDS = (
    ("report", "portfolio"), ("report", "budget"), ("report", "variance"), ("compliance",),
)


def run_cli(cwd: Path, *args: str, timeout: int = 180, passphrase: str = PW) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PMO_LEDGER_PASSPHRASE": passphrase}
    return subprocess.run([PMO_LEDGER, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def assert_refused(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "error: " in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert result.stdout == ""


# PostgreSQL schemas made by a test; dropped at its end --------------------------------------


@pytest.fixture
def pg_schemas() -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for schema in made:
        pg_admin(f"SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")


def new_pg(made: list[str]) -> str:
    require_postgres()
    schema = f"r_{uuid.uuid4().hex}"
    pg_admin(f'CREATE SCHEMA "{schema}"')
    made.append(schema)
    return f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test?schema={schema}"


def pg_tables(url: str) -> list[str]:
    schema = url.rsplit("schema=", 1)[1]
    return [r[0] for r in pg_admin(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))]


def facts(cwd: Path, url: str) -> dict:
    """What the CLI says about a ledger: verification, and every read-model report."""
    report = json.loads(ok(run_cli(cwd, "verify", "--json", "--db", url)))
    out = {name: report[name] for name in ("ok", "events", "faults", "root", "head", "root_key_id",
                                            "origin", "checkpoints_checked")}
    for command in READ_MODEL_COMMANDS:
        out[" ".join(command)] = json.loads(ok(run_cli(cwd, *command, "--format", "json", "--db", url)))
    app = open_ledger(url)
    try:
        out["checkpoints"] = [r[0] for r in app.recorder.fetch("SELECT note FROM {checkpoints} ORDER BY id")]
    finally:
        app.close()
    return out


# The round trip on the demo portfolio ------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, demo_template: SimpleNamespace) -> tuple[Path, str, Path]:
    """The demo portfolio (~11k events) in SQLite (a copy of the session's), and its evidence bundle."""
    d = tmp_path_factory.mktemp("demo")
    url = copy_demo(demo_template, d)
    bundle = d / "demo.zip"
    ok(run_cli(d, "export", str(bundle), "--db", url, passphrase=DEMO_PW))
    return d, url, bundle


def test_round_trip_sqlite_to_postgresql_and_back(demo, pg_schemas, tmp_path):
    cwd, source_url, bundle = demo
    pg = new_pg(pg_schemas)

    out = ok(run_cli(cwd, "import", str(bundle), "--db", pg))
    original = facts(cwd, source_url)
    assert original["ok"] and original["events"] > 10_000
    assert all(original[" ".join(c)] for c in READ_MODEL_COMMANDS)  # reports with content
    assert f"size: {original['events']}" in out
    assert f"head: {original['head']}" in out
    assert f"merkle root: {original['root']}" in out
    assert facts(cwd, pg) == original

    # Back: export from PostgreSQL (byte for byte the same bundle), import into SQLite.
    again = tmp_path / "from-postgresql.zip"
    ok(run_cli(cwd, "export", str(again), "--db", pg))
    assert again.read_bytes() == bundle.read_bytes()
    back = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    out = ok(run_cli(cwd, "import", str(again), "--db", back))
    assert f"head: {original['head']}" in out
    assert facts(cwd, back) == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["from-postgresql.zip", "restored.sqlite3"]


# A small ledger for the refusals --------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A SQLite PMO ledger (the cast, one locked project, a payment) and its bundle."""
    d = tmp_path_factory.mktemp("small")
    url = f"sqlite:///{d / 'small.sqlite3'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("PMO_LEDGER_PASSPHRASE", PW)
    try:
        app, root = init_ledger(url, PW, app_class=PMOApplication)
        enrol_cast(app, root, passphrase=PW, password="demo")
        world = World(app, url)
        world.locked()
        world.expenditure("1200.00")
        export_bundle(app, d / "small.zip", root_signer=root)
        app.close()
    finally:
        mp.undo()
    return url, d / "small.zip"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    d = tmp_path / "cwd"
    d.mkdir()
    return d


def rewrite(src: Path, dst: Path, name: str, edit) -> Path:  # noqa: ANN001
    with zipfile.ZipFile(src) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    members[name] = edit(members[name])
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in members.items():
            z.writestr(n, data)
    return dst


def flip_state_byte(data: bytes) -> bytes:
    """Change one character inside the stored payload of the last record."""
    lines = data.split(b"\n")
    obj = json.loads(lines[-2])
    state = bytearray(base64.b64decode(obj["state"]))
    state[len(state) // 2] ^= 0x01
    obj["state"] = base64.b64encode(bytes(state)).decode()
    lines[-2] = json.dumps(obj, separators=(",", ":")).encode()
    return b"\n".join(lines)


def _identity(r):  # noqa: ANN001, ANN202 - everything of a record but its notification id
    return (r.position, r.originator_id, r.originator_version, r.key_id, r.signature, r.chain_hash,
            r.topic, r.state, r.event_originator_id, r.event_originator_version)


def test_small_import_into_each_backend(small, pg_schemas, workdir):
    source_url, bundle = small
    for url in (new_pg(pg_schemas), f"sqlite:///{workdir / 'copy.sqlite3'}"):
        out = ok(run_cli(workdir, "import", str(bundle), "--db", url))
        app = open_ledger(url)
        src = open_ledger(source_url)
        try:
            assert app.head() == src.head()
            assert f"head: {src.head()[1].hex()}" in out
            assert app.size() > 20
            assert [_identity(r) for r in app.iter_chain()] == [_identity(r) for r in src.iter_chain()]
            assert app.recorder.fetch("SELECT COUNT(*) FROM {keys}")[0][0] == 0  # no secrets came
        finally:
            app.close()
            src.close()


def test_import_into_a_non_empty_database_is_refused(small, pg_schemas, workdir):
    source_url, bundle = small
    pg = new_pg(pg_schemas)
    ok(run_cli(workdir, "import", str(bundle), "--db", pg))
    for url in (pg, source_url):
        app = open_ledger(url)
        before = snapshot_of_tables(app)
        app.close()
        assert_refused(run_cli(workdir, "import", str(bundle), "--db", url), "import only into an empty database")
        app = open_ledger(url)
        assert snapshot_of_tables(app) == before
        app.close()


def test_import_refuses_an_existing_file_that_is_not_a_ledger(small, workdir):
    _, bundle = small
    target = workdir / "notes.db"
    target.write_text("my notes")
    assert_refused(run_cli(workdir, "import", str(bundle), "--db", f"sqlite:///{target}"), "already exists")
    assert target.read_text() == "my notes"
    assert sorted(p.name for p in workdir.iterdir()) == ["notes.db"]


def _tampered(bundle: Path, tmp: Path) -> Path:
    return rewrite(bundle, tmp / "tampered.zip", "records.jsonl", flip_state_byte)


def _truncated(bundle: Path, tmp: Path) -> Path:
    data = bundle.read_bytes()
    (tmp / "truncated.zip").write_bytes(data[: len(data) // 2])
    return tmp / "truncated.zip"


def _corrupt_member(bundle: Path, tmp: Path) -> Path:
    """A readable zip whose records member no longer inflates (its bytes overwritten)."""
    data = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as z:
        info = z.getinfo("records.jsonl")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 40
    data[start:start + 64] = bytes(64)
    (tmp / "corrupt.zip").write_bytes(bytes(data))
    return tmp / "corrupt.zip"


BAD_BUNDLES = {
    "tampered": (_tampered, ("does not verify clean", "FAULT", "nothing was written")),
    "truncated": (_truncated, ("is not an evidence bundle",)),
    "corrupt member": (_corrupt_member, ("corrupt",)),
    "missing": (lambda bundle, tmp: tmp / "no-such.zip", ("no such file",)),
}


@pytest.mark.parametrize("case", sorted(BAD_BUNDLES))
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_bad_bundles_write_nothing(small, pg_schemas, tmp_path, workdir, case, backend):
    _, bundle = small
    make, words = BAD_BUNDLES[case]
    bad = make(bundle, tmp_path)
    url = new_pg(pg_schemas) if backend == "postgresql" else f"sqlite:///{workdir / 'target.sqlite3'}"
    result = run_cli(workdir, "import", str(bad), "--db", url)
    assert_refused(result, *words)
    if backend == "postgresql":
        assert pg_tables(url) == []
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize("url,words", [
    ("mysql://user@host/db", ("unknown backend 'mysql'",)),
    ("not a url", ("is not a URL",)),
    ("sqlite:///", ("names no database file",)),
    ("postgresql://postgres@127.0.0.1:1/test", ("cannot",)),
])
def test_bad_urls_write_nothing(small, workdir, url, words):
    _, bundle = small
    assert_refused(run_cli(workdir, "import", str(bundle), "--db", url), *words)
    assert list(workdir.iterdir()) == []


# Atomicity and the recorder's own checks -------------------------------------------------------------


def _fail_after_first_batch(done: int, total: int) -> None:
    raise RuntimeError(f"interrupted after {done} of {total}")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_interrupted_import_leaves_the_target_empty(small, pg_schemas, tmp_path, backend):
    _, bundle = small
    url = new_pg(pg_schemas) if backend == "postgresql" else f"sqlite:///{tmp_path / 'db' / 'x.sqlite3'}"
    with pytest.raises(RuntimeError, match="interrupted after 10 of"):
        import_bundle(bundle, url, app_class=PMOApplication, batch=10, progress=_fail_after_first_batch)
    if backend == "sqlite":
        assert not (tmp_path / "db").exists()  # not even the directory it made
    else:
        app = open_ledger(url)  # the tables exist, empty: the import can be run again
        assert (app.size(), count_events(app), count_chain(app)) == (0, 0, 0)
        app.close()
    result = import_bundle(bundle, url, app_class=PMOApplication, batch=10)
    assert result.size > 10


def _rows(bundle: Path) -> list:
    with BundleSource(bundle) as source:
        return source.read(1, source.size())


@pytest.mark.parametrize("damage", ["chain hash", "signature", "gap", "no event", "uppercase id"])
def test_insert_presigned_refuses_records_that_do_not_chain(small, backend_url, damage):
    _, bundle = small
    rows = _rows(bundle)
    r = rows[4]
    rows[4] = {
        "chain hash": r._replace(chain_hash=bytes(32)),
        "signature": r._replace(signature=bytes(64)),
        "gap": r._replace(position=r.position + 1),
        "no event": r._replace(state=None, topic=None, event_originator_id=None),
        "uppercase id": r._replace(originator_id=r.originator_id.upper(),
                                   event_originator_id=r.originator_id.upper()),
    }[damage]
    app = PMOApplication(parse_url(backend_url), create_tables=True)
    try:
        with pytest.raises(LedgerError, match="position 5"):
            app.recorder.insert_presigned([rows[:3], rows[3:]], [(1, "a note")])
        assert (count_events(app), count_chain(app), app.size()) == (0, 0, 0)
        assert app.recorder.fetch("SELECT COUNT(*) FROM {checkpoints}")[0][0] == 0
        app.recorder.insert_presigned([_rows(bundle)])  # the undamaged records go in
        assert app.size() == len(rows)
    finally:
        app.close()


def test_a_pinned_root_key_that_differs_is_refused(small, tmp_path):
    _, bundle = small
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    with pytest.raises(ImportRefusedError, match="root-key-mismatch"):
        import_bundle(bundle, url, pinned_root="00" * 32)
    assert os.listdir(tmp_path) == []


# The secrets a bundle never carries ---------------------------------------------------------------


def test_keys_export_and_import_let_a_restored_ledger_record_again(small, pg_schemas, tmp_path, workdir):
    source_url, bundle = small
    pg = new_pg(pg_schemas)
    ok(run_cli(workdir, "import", str(bundle), "--db", pg))
    secrets = tmp_path / "secrets.json"
    out = ok(run_cli(workdir, "keys", "export", str(secrets), "--db", source_url))
    assert "SECRET" in out and "8 pmo_credentials" in out
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert json.loads(secrets.read_text())["warning"].startswith("SECRET")
    assert_refused(run_cli(workdir, "keys", "export", str(secrets), "--db", source_url), "already exists")

    ok(run_cli(workdir, "keys", "import", str(secrets), "--db", pg))
    assert_refused(run_cli(workdir, "keys", "import", str(secrets), "--db", pg), "already holds private keys")
    app = open_ledger(pg, app_class=PMOApplication)
    try:
        assert app.check_password("pm", "demo")
        World(app, pg).charter("IT-2026-099")  # signed with pm's restored key
        assert app.size() > ledger_size(source_url)
    finally:
        app.close()
    report = json.loads(ok(run_cli(workdir, "verify", "--json", "--db", pg)))
    assert report["ok"], report["faults"]


def test_keys_import_refuses_another_ledgers_secrets(small, tmp_path, workdir, monkeypatch):
    _, bundle = small
    monkeypatch.setenv("PMO_LEDGER_PASSPHRASE", PW)
    other = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    init_ledger(other, PW)[0].close()
    secrets = tmp_path / "other-secrets.json"
    ok(run_cli(workdir, "keys", "export", str(secrets), "--db", other))
    target = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    ok(run_cli(workdir, "import", str(bundle), "--db", target))
    assert_refused(run_cli(workdir, "keys", "import", str(secrets), "--db", target), "belongs to ledger")
    app = open_ledger(target)
    assert app.recorder.fetch("SELECT COUNT(*) FROM {keys}")[0][0] == 0
    app.close()


