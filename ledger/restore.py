"""Restoring a ledger from an evidence bundle into an empty database (`pmo-ledger import`).

The bundle is verified first (every signature, link, key event and the checkpoint); one
that does not verify clean is refused, as is a target that holds anything. Then every
record goes in, in position order and in batches, through the recorder's
`insert_presigned`: each keeps its originator id, version, topic, stored bytes, key id and
signature, and its chain hash is recomputed and must equal the bundle's. The chain hash
does not cover notification ids, so the same chain, Merkle root and head hash come out on
either backend. The bundle's checkpoint is stored too. Finally the target is verified
again from the database.

What a failure leaves behind:

- SQLite: the database is built in a temporary file beside the target and linked into
  place only once complete and verified, so the target either does not exist or is
  complete (a crash may leave a `.NAME.*.importing` file, which is never the ledger).
- PostgreSQL: the tables are created first (empty tables still count as an empty
  database, so the import can simply be run again), then every record and the checkpoint
  go in ONE transaction under the events table's EXCLUSIVE lock: all or nothing.

Not restored, because the bundle never carries them (an export holds no secrets): the
private signing keys and the web users' password hashes and API tokens. The restored
ledger is fully readable and verifiable; see `keys export` / `keys import`
(ledger.secretsfile) to carry the encrypted key store across as well.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.persistence import PersistenceError

from ledger import checkpoint as notes
from ledger.application import LedgerApplication, _construct, open_ledger
from ledger.backend import Backend, parse_url
from ledger.bundle.check import BundleReport, verify_bundle
from ledger.bundle.source import BundleSource
from ledger.errors import BackendUnavailableError, LedgerError, NotInitialisedError
from ledger.verify import DatabaseSource, Fault, verify_log

IMPORT_BATCH = 2000  # records per insert statement (PostgreSQL) / per progress step
SHOWN_FAULTS = 5  # faults quoted in the refusal; verify-bundle lists them all
Progress = Callable[[int, int], None]


class ImportRefusedError(LedgerError):
    """The bundle does not verify, or the target is not an empty database."""

    code = "import-refused"


@dataclass
class ImportResult:
    target: str  # the database, described without a password
    size: int
    head: bytes
    root: bytes  # the Merkle root of the imported log
    root_key_id: str | None
    origin: str | None
    checkpoints: int
    seconds: float


def import_bundle(
    path: str | os.PathLike[str],
    url: str,
    *,
    app_class: type[LedgerApplication] = LedgerApplication,
    pinned_root: str | None = None,
    workers: int | None = None,
    batch: int = IMPORT_BATCH,
    verify_progress: Progress | None = None,
    progress: Progress | None = None,
    check_progress: Progress | None = None,
) -> ImportResult:
    """Import the evidence bundle at `path` into the empty database at `url`.

    `app_class` chooses the tables created (an application may add its own side tables).
    Raises ImportRefusedError (nothing written) for a bundle with faults or a non-empty
    target, BundleFormatError for a file that is not a readable bundle.
    """
    started = time.perf_counter()
    backend = parse_url(url)
    check_empty(backend)
    report = verify_bundle(path, pinned_root, verify_progress, workers=workers)
    if not report.ok:
        raise ImportRefusedError(_faults_message(path, report))
    if report.events == 0:
        raise ImportRefusedError(f"{path} holds no records: there is nothing to import")
    into = _into_sqlite if backend.kind == "sqlite" else _into_postgres
    check = into(path, backend, app_class, report, batch, progress, check_progress)
    return ImportResult(backend.describe(), check.events, check.head, check.root, check.root_key_id,
                        check.origin, check.checkpoints_checked, time.perf_counter() - started)


def _faults_message(path: Any, report: BundleReport) -> str:
    lines = [f"refusing to import {path}: it does not verify clean ({len(report.faults)} fault(s)); "
             "nothing was written"]
    lines += [f"  {_fault_line(f)}" for f in report.faults[:SHOWN_FAULTS]]
    if len(report.faults) > SHOWN_FAULTS:
        lines.append(f"  ... and {len(report.faults) - SHOWN_FAULTS} more: run `pmo-ledger verify-bundle {path}`")
    return "\n".join(lines)


def _fault_line(f: Fault) -> str:
    where = f"position {f.position}" if f.position is not None else "no position"
    return f"FAULT {f.kind} at {where}: {f.detail}"


# The target must be empty -----------------------------------------------------------------


def check_empty(backend: Backend) -> None:
    """Refuse a target that holds anything; writes nothing (creates no file)."""
    if backend.kind == "sqlite":
        _check_sqlite_absent(backend)
        return
    try:
        app = open_ledger(backend.url)
    except NotInitialisedError:
        return  # no ledger tables at all
    try:
        held = {name: _count(app, table) for name, table in (
            ("records", "{events}"), ("private keys", "{keys}"), ("checkpoints", "{checkpoints}"))}
    finally:
        app.close()
    if any(held.values()):
        what = ", ".join(f"{n} {name}" for name, n in held.items() if n)
        raise ImportRefusedError(
            f"{backend.describe()} is not empty (it holds {what}); import only into an empty "
            "database: a new schema (?schema=name) or a new database"
        )


def _count(app: LedgerApplication, table: str) -> int:
    try:
        return int(app.recorder.fetch(f"SELECT COUNT(*) FROM {table}")[0][0])
    except PersistenceError as e:
        if "does not exist" in str(e):
            return 0
        raise BackendUnavailableError(f"cannot read {app.backend.describe()}: {e}") from None


def _check_sqlite_absent(backend: Backend) -> None:
    """A SQLite import writes a new file: the target must not exist (or be zero bytes)."""
    path = backend.sqlite_path
    assert path is not None
    if path.is_dir():
        raise ImportRefusedError(f"{path} is a directory; give the database file's name")
    for side in (Path(f"{path}-wal"), Path(f"{path}-journal")):
        if side.exists():
            raise ImportRefusedError(f"{path} is in use or was not closed cleanly ({side.name} exists); "
                                     "import only into a new database file")
    if not path.exists() or path.stat().st_size == 0:
        return
    records = _sqlite_records(path)
    if records is not None:
        raise ImportRefusedError(f"{path} already holds a ledger ({records} records); import only "
                                 "into an empty database: give a file name that does not exist")
    raise ImportRefusedError(f"{path} already exists; import writes a new SQLite database: "
                             "give a file name that does not exist")


def _sqlite_records(path: Path) -> int | None:
    """The rows of the events table of an existing SQLite file (None: not a ledger), read-only."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        events = [n for n in names if n.endswith("_events") and not n.endswith("snapshots")]
        return sum(int(conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]) for n in events) if events else None
    except sqlite3.Error:
        return None
    finally:
        conn.close()


# Writing ----------------------------------------------------------------------------------


def _batches(path: Any, report: BundleReport, batch: int, progress: Progress | None) -> Iterator[Sequence[Any]]:
    """The bundle's records in position order, `batch` at a time. It ends by checking that
    the chain read is the one verified (the file could have been replaced meanwhile): the
    same size and head hash, else the recorder's transaction rolls back."""
    size, done, last = report.events, 0, None
    with BundleSource(path) as source:
        if source.size() != size:
            raise ImportRefusedError(f"{path} changed after it was verified; nothing was written")
        for lo in range(1, size + 1, batch):
            rows = source.read(lo, min(size, lo + batch - 1))
            yield rows
            done += len(rows)
            last = rows[-1] if rows else last
            if progress:
                progress(done, size)
    if done != size or last is None or last.chain_hash != report.head:
        raise ImportRefusedError(f"{path} changed after it was verified; nothing was written")


def _checkpoints(path: Any) -> list[tuple[int, str]]:
    with BundleSource(path) as source:
        return [(notes.parse(text)[0].size, text) for text in source.checkpoints()]


def _fill(app: LedgerApplication, path: Any, report: BundleReport, batch: int,
          progress: Progress | None) -> None:
    try:
        app.recorder.insert_presigned(_batches(path, report, batch, progress), _checkpoints(path))
    except PersistenceError as e:
        raise BackendUnavailableError(f"the import into {app.backend.describe()} failed: {e}") from None


def _check(url: str, report: BundleReport, progress: Progress | None, workers: int | None = None) -> Any:
    """Verify the imported ledger from the database: clean, and the bundle's size, head and root."""
    app = open_ledger(url)
    try:
        check = verify_log(DatabaseSource(app), workers=workers, progress=progress)
    finally:
        app.close()
    same = (check.events, check.head, check.root) == (report.events, report.head, report.root)
    if not check.ok or not same:
        faults = "; ".join(_fault_line(f) for f in check.faults[:SHOWN_FAULTS]) or (
            f"size {check.events}, head {check.head.hex()}, root {check.root.hex()} against the bundle's "
            f"{report.events}, {report.head.hex()}, {report.root.hex()}")
        raise LedgerError(f"the imported ledger does not verify as the bundle did: {faults}")
    return check


def _into_sqlite(path: Any, backend: Backend, app_class: type[LedgerApplication], report: BundleReport,
                 batch: int, progress: Progress | None, check_progress: Progress | None) -> Any:
    target = backend.sqlite_path
    assert target is not None
    made_dir = not target.parent.exists()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".importing", dir=target.parent)
        os.close(fd)
    except OSError as e:
        raise LedgerError(f"cannot write {target}: {e.strerror or e}") from None
    tmp_url = f"sqlite:///{tmp}"
    try:
        app = _construct(app_class, parse_url(tmp_url), create_tables=True)
        try:
            _fill(app, path, report, batch, progress)
        finally:
            app.close()  # the last connection: SQLite folds the WAL back into the file
        check = _check(tmp_url, report, check_progress)
        _put_in_place(Path(tmp), target)
    except BaseException as e:
        for leftover in (tmp, f"{tmp}-wal", f"{tmp}-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
        if made_dir:
            with contextlib.suppress(OSError):
                target.parent.rmdir()
        if isinstance(e, OSError):
            raise LedgerError(f"cannot write {target}: {e.strerror or e}") from None
        raise
    return check


def _put_in_place(tmp: Path, target: Path) -> None:
    """Move the finished database to `target`, never over a file that appeared meanwhile."""
    wal, shm = Path(f"{tmp}-wal"), Path(f"{tmp}-shm")
    if wal.exists() and wal.stat().st_size > 0:
        raise LedgerError(f"the imported database {tmp} was not closed cleanly ({wal.name} remains)")
    for side in (wal, shm):
        with contextlib.suppress(FileNotFoundError):
            side.unlink()
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    if target.exists() and target.stat().st_size == 0:
        os.replace(tmp, target)  # an empty file stood there: an empty database
    else:
        try:
            os.link(tmp, target)  # fails if the target appeared meanwhile
        except FileExistsError:
            raise ImportRefusedError(f"{target} appeared while importing; refusing to overwrite it") from None
        os.unlink(tmp)
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _into_postgres(path: Any, backend: Backend, app_class: type[LedgerApplication], report: BundleReport,
                   batch: int, progress: Progress | None, check_progress: Progress | None) -> Any:
    app = _construct(app_class, backend, create_tables=True)
    try:
        _fill(app, path, report, batch, progress)
    finally:
        app.close()
    return _check(backend.url, report, check_progress)
