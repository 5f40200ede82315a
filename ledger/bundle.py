"""Evidence bundles: one zip file an auditor can carry away and verify with no database.

The layout, every field and its encoding, and the verification algorithm are specified in
FORMAT.md, which every bundle carries. In short, the members are, in this order:

    FORMAT.md         the specification
    records.jsonl     one JSON object per chain position, in position order
    unchained.jsonl   stored events no chain position accounts for (normally empty)
    keys.json         the key history derived from the key events in records.jsonl
    checkpoint.txt    the latest checkpoint (a C2SP signed note by the root key)
    manifest.json     format version, counts, and the SHA-256 of every other member

`export_bundle` writes one from a ledger (to a temporary name, renamed when complete);
`BundleSource` is the `LogSource` that `verify_log` reads it through (worker processes
re-open it from `("bundle", path)`); `verify_bundle` adds the bundle-level checks.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import IO, Any

from ledger import checkpoint as notes
from ledger.canonical import canonical_bytes
from ledger.errors import BundleFormatError, CheckpointFormatError, LedgerError
from ledger.keyring import KEY_TOPICS
from ledger.rows import ChainRow, UnchainedRow
from ledger.verify import DatabaseSource, Fault, Report, build_timeline, verify_log

FORMAT_VERSION = "pmo-ledger-bundle/1"
FORMAT_MEMBER = "FORMAT.md"
RECORDS = "records.jsonl"
UNCHAINED = "unchained.jsonl"
KEYS = "keys.json"
CHECKPOINT = "checkpoint.txt"
MANIFEST = "manifest.json"
MEMBERS = (FORMAT_MEMBER, RECORDS, UNCHAINED, KEYS, CHECKPOINT, MANIFEST)

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # every member's timestamp: bundles are reproducible
EXPORT_BATCH = 2000
Progress = Callable[[int, int], None]


# Encoding ---------------------------------------------------------------------------------


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def record_object(r: ChainRow) -> dict[str, Any]:
    """The records.jsonl object of one chain position."""
    obj: dict[str, Any] = {
        "position": r.position,
        "notification_id": r.notification_id,
        "originator_id": r.originator_id,
        "originator_version": r.originator_version,
        "topic": r.topic if r.state is not None else None,
        "state": _b64(r.state) if r.state is not None else None,
        "key_id": r.key_id,
        "signature": _b64(r.signature),
        "chain_hash": _b64(r.chain_hash),
    }
    if r.state is not None and (r.event_originator_id, r.event_originator_version) != (
        r.originator_id, r.originator_version
    ):
        # The stored event at notification_id is not the one the chain row names.
        obj["event_originator_id"] = r.event_originator_id
        obj["event_originator_version"] = r.event_originator_version
    return obj


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii") + b"\n"


def _pretty(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=True).encode("ascii") + b"\n"


def key_history(key_rows: Sequence[ChainRow]) -> dict[str, Any]:
    """keys.json: every key the log made valid, with who registered and revoked it, when.

    Derived with the verifier's own rules (`build_timeline`): an improperly authorised key
    event adds nothing here. `registered_by` / `revoked_by` are the keys that signed the
    registering / revoking records.
    """
    timeline, _ = build_timeline(key_rows)
    signer_at = {r.position: r.key_id for r in key_rows}
    keys = []
    for kid, k in timeline.keys.items():
        registered_at = k.valid_from if kid == timeline.root_key_id else k.valid_from - 1
        keys.append({
            "key_id": kid,
            "public_key": k.public.hex(),
            "owner": k.owner,
            "may_register_keys": k.may_register,
            "registered_at": registered_at,
            "registered_by": signer_at.get(registered_at),
            "valid_from": k.valid_from,
            "revoked_at": k.revoked_at,
            "revoked_by": signer_at.get(k.revoked_at) if k.revoked_at is not None else None,
        })
    keys.sort(key=lambda k: (k["registered_at"], k["key_id"]))
    return {
        "format": FORMAT_VERSION,
        "origin": timeline.origin,
        "root_key_id": timeline.root_key_id,
        "keys": keys,
    }


# Writing ----------------------------------------------------------------------------------


def _zipinfo(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = 0o100644 << 16
    return info


class _MemberHasher:
    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.size = 0

    def add(self, data: bytes) -> bytes:
        self.sha.update(data)
        self.size += len(data)
        return data

    def entry(self) -> dict[str, Any]:
        return {"bytes": self.size, "sha256": self.sha.hexdigest()}


def format_text() -> bytes:
    """The FORMAT.md shipped with this package."""
    return resources.files("ledger").joinpath("FORMAT.md").read_bytes()


def write_bundle(
    out: IO[bytes],
    records: Iterable[ChainRow],
    *,
    size: int,
    unchained: Sequence[UnchainedRow],
    checkpoint_text: str,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write a bundle of `records` (positions 1..size, in order) to `out`; return the manifest."""
    members: dict[str, dict[str, Any]] = {}
    key_rows: list[ChainRow] = []
    count = 0
    try:
        cp_size: int | None = notes.parse(checkpoint_text)[0].size
    except CheckpointFormatError as e:
        raise LedgerError(f"the checkpoint to export is malformed: {e}") from None
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:

        def put(name: str, data: bytes) -> None:
            h = _MemberHasher()
            zf.writestr(_zipinfo(name), h.add(data))
            members[name] = h.entry()

        put(FORMAT_MEMBER, format_text())
        h = _MemberHasher()
        # force_zip64: the member's size is not known before it is written.
        with zf.open(_zipinfo(RECORDS), "w", force_zip64=True) as f:
            batch: list[bytes] = []
            for r in records:
                count += 1
                if r.topic in KEY_TOPICS and r.state is not None:
                    key_rows.append(r)
                batch.append(_line(record_object(r)))
                if len(batch) >= EXPORT_BATCH:
                    f.write(h.add(b"".join(batch)))
                    batch.clear()
                    if progress:
                        progress(count, size)
            f.write(h.add(b"".join(batch)))
        members[RECORDS] = h.entry()
        if progress:
            progress(size, size)
        put(UNCHAINED, b"".join(
            _line({"notification_id": u.notification_id, "originator_id": u.originator_id,
                   "originator_version": u.originator_version, "topic": u.topic})
            for u in unchained
        ))
        keys = key_history(key_rows)
        put(KEYS, _pretty(keys))
        put(CHECKPOINT, checkpoint_text.encode("utf-8"))
        manifest = {
            "format": FORMAT_VERSION,
            "origin": keys["origin"],
            "root_key_id": keys["root_key_id"],
            "size": size,
            "records": count,
            "unchained": len(unchained),
            "keys": len(keys["keys"]),
            "checkpoint_size": cp_size,
            "members": members,
        }
        zf.writestr(_zipinfo(MANIFEST), _pretty(manifest))
    return manifest


def _db_records(app: Any, size: int) -> Iterator[ChainRow]:
    for lo in range(1, size + 1, EXPORT_BATCH):
        yield from app.read_chain(lo, min(size, lo + EXPORT_BATCH - 1))


def latest_checkpoint(app: Any) -> str | None:
    """The most recently stored checkpoint note, or None."""
    rows = app.recorder.fetch("SELECT note FROM {checkpoints} ORDER BY id DESC LIMIT 1")
    return rows[0][0] if rows else None


def _fresh_checkpoint(app: Any, progress: Progress | None) -> notes.Checkpoint:
    report = verify_log(DatabaseSource(app), progress=progress)
    if not report.ok:
        raise LedgerError(
            "no checkpoint is stored, and refusing to sign one: verification found "
            f"{len(report.faults)} fault(s); run `pmo-ledger verify` for the list"
        )
    return notes.Checkpoint(report.origin or "", report.events, report.root, report.head,
                            datetime.now(UTC))


@dataclass
class ExportResult:
    path: Path
    manifest: dict[str, Any]
    new_checkpoint: bool


def export_bundle(
    app: Any,
    path: str | os.PathLike[str],
    progress: Progress | None = None,
    *,
    root_signer: Any = None,
    overwrite: bool = False,
) -> ExportResult:
    """Write the evidence bundle of the ledger `app` to `path`.

    The bundle carries the latest stored checkpoint. When none is stored, `root_signer`
    (the root key's Signer) signs a new one, after a clean verification; it is stored in
    the ledger only once the bundle is complete. Nothing is written on failure: the bundle
    goes to a temporary name in the same directory and is renamed when complete.
    """
    target = Path(path)
    if target.is_dir():
        raise LedgerError(f"{target} is a directory; give the bundle's file name")
    if target.exists() and not overwrite:
        raise LedgerError(f"{target} already exists; refusing to overwrite it (use --force)")
    if not target.parent.is_dir():
        raise LedgerError(f"cannot write {target}: directory {target.parent} does not exist")
    text = latest_checkpoint(app)
    new_cp: notes.Checkpoint | None = None
    if text is None:
        if root_signer is None:
            raise LedgerError(
                "the ledger holds no checkpoint and no root key was given to sign one: "
                "run `pmo-ledger checkpoint` first"
            )
        new_cp = _fresh_checkpoint(app, progress)
        text = notes.sign(new_cp, root_signer)
    size = app.size()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as e:
        raise LedgerError(f"cannot write {target}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "w+b") as f:
            manifest = write_bundle(
                f, _db_records(app, size), size=size, unchained=_unchained(app),
                checkpoint_text=text, progress=progress,
            )
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if target.exists() and not overwrite:
            raise LedgerError(f"{target} appeared while exporting; refusing to overwrite it")
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise LedgerError(f"cannot write {target}: {e.strerror or e}") from None
        raise
    if new_cp is not None:
        app.recorder.execute("INSERT INTO {checkpoints} (size, note) VALUES (?, ?)", (new_cp.size, text))
    return ExportResult(target, manifest, new_cp is not None)


def _unchained(app: Any) -> list[UnchainedRow]:
    from ledger.recorders.chain import unchained_rows

    return unchained_rows(app.recorder)


# Reading ----------------------------------------------------------------------------------


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


_DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)


def _json(data: bytes, where: str) -> Any:
    try:
        return _DECODER.decode(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BundleFormatError(f"{where} is not valid JSON: {e}") from None


def _field(obj: dict[str, Any], name: str, kind: type, where: str, *, nullable: bool = False) -> Any:
    if name not in obj:
        raise BundleFormatError(f"{where}: field {name!r} is missing")
    v = obj[name]
    if v is None and nullable:
        return None
    if type(v) is not kind or (kind is int and v < 0):
        what = {int: "a non-negative integer", str: "a string"}[kind]
        raise BundleFormatError(f"{where}: field {name!r} must be {what}{' or null' if nullable else ''}")
    return v


def _unb64(text: str, name: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise BundleFormatError(f"{where}: field {name!r} is not base64") from None


def parse_record(line: bytes, lineno: int) -> ChainRow:
    """One records.jsonl line as a ChainRow; BundleFormatError says what is wrong where."""
    where = f"{RECORDS} line {lineno}"
    obj = _json(line, where)
    if type(obj) is not dict:
        raise BundleFormatError(f"{where} is not a JSON object")
    position = _field(obj, "position", int, where)
    if position < 1:
        raise BundleFormatError(f"{where}: position {position} is not a position (they start at 1)")
    where = f"{where} (position {position})"
    state_text = _field(obj, "state", str, where, nullable=True)
    topic = _field(obj, "topic", str, where, nullable=True)
    oid = _field(obj, "originator_id", str, where)
    version = _field(obj, "originator_version", int, where)
    if (state_text is None) != (topic is None):
        raise BundleFormatError(f"{where}: 'topic' and 'state' must both be null or both be set")
    event_oid: str | None = None
    event_version: int | None = None
    if state_text is not None:
        event_oid, event_version = oid, version
        if "event_originator_id" in obj or "event_originator_version" in obj:
            event_oid = _field(obj, "event_originator_id", str, where)
            event_version = _field(obj, "event_originator_version", int, where)
    return ChainRow(
        position,
        _field(obj, "notification_id", int, where),
        oid,
        version,
        _field(obj, "key_id", str, where),
        _unb64(_field(obj, "signature", str, where), "signature", where),
        _unb64(_field(obj, "chain_hash", str, where), "chain_hash", where),
        event_oid,
        event_version,
        topic,
        None if state_text is None else _unb64(state_text, "state", where),
    )


def _quick_position(line: bytes) -> int | None:
    """The position of a line written by this module, without parsing it (for skipping)."""
    if not line.startswith(b'{"position":'):
        return None
    end = line.find(b",", 12)
    digits = line[12:end]
    return int(digits) if end > 12 and digits.isdigit() else None


@dataclass
class _Scan:
    last_position: int = 0
    lines: int = 0
    key_rows: list[ChainRow] = field(default_factory=list)
    sha256: str = ""
    nbytes: int = 0
    chain_hashes: dict[int, bytes] = field(default_factory=dict)


class BundleSource:
    """A LogSource over an evidence bundle (see ledger.verify.LogSource)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._zip = _open_zip(self.path)
        try:
            self.manifest = self._manifest()
        except BaseException:
            self._zip.close()
            raise
        self._scanned: _Scan | None = None
        self._cursor: _Cursor | None = None

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> BundleSource:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # Members ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self, name: str) -> Iterator[None]:
        try:
            yield
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise BundleFormatError(f"{self.path}: member {name} is corrupt: {e}") from None

    def member(self, name: str) -> bytes:
        with self._reading(name):
            return self._zip.read(name)

    def lines(self, name: str, hasher: Any = None) -> Iterator[tuple[int, bytes]]:
        """(line number, line without its newline) of a JSON Lines member, streamed;
        `hasher.update` sees the member's bytes on the way."""
        with self._reading(name), self._zip.open(name) as f:
            rest, lineno = b"", 0
            while chunk := f.read(1 << 20):
                if hasher is not None:
                    hasher.update(chunk)
                parts = (rest + chunk).split(b"\n")
                rest = parts.pop()
                for line in parts:
                    lineno += 1
                    if not line:
                        raise BundleFormatError(f"{name} line {lineno} is empty")
                    yield lineno, line
        if rest:
            raise BundleFormatError(f"{name} line {lineno + 1} has no final newline (truncated?)")

    def _manifest(self) -> dict[str, Any]:
        m = _json(self.member(MANIFEST), MANIFEST)
        if type(m) is not dict:
            raise BundleFormatError(f"{MANIFEST} is not a JSON object")
        if m.get("format") != FORMAT_VERSION:
            raise BundleFormatError(
                f"unsupported bundle format {m.get('format')!r}: this verifier reads {FORMAT_VERSION}"
            )
        for name in ("size", "records", "unchained", "keys"):
            _field(m, name, int, MANIFEST)
        members = m.get("members")
        if type(members) is not dict or not all(
            type(v) is dict and type(v.get("sha256")) is str and type(v.get("bytes")) is int
            for v in members.values()
        ):
            raise BundleFormatError(f"{MANIFEST}: 'members' must map names to {{bytes, sha256}}")
        return m

    def checkpoint_text(self) -> str:
        try:
            return self.member(CHECKPOINT).decode("utf-8")
        except UnicodeDecodeError as e:
            raise BundleFormatError(f"{CHECKPOINT} is not UTF-8 text: {e}") from None

    def keys_document(self) -> Any:
        return _json(self.member(KEYS), KEYS)

    # One validating pass over records.jsonl ---------------------------------------------

    def scan(self) -> _Scan:
        if self._scanned is not None:
            return self._scanned
        s = _Scan()
        try:
            wanted = {notes.parse(self.checkpoint_text())[0].size}
        except CheckpointFormatError:
            wanted = set()
        sha = _MemberHasher()
        for lineno, line in self.lines(RECORDS, hasher=sha.sha):
            r = parse_record(line, lineno)
            if r.position <= s.last_position:
                raise BundleFormatError(
                    f"{RECORDS} line {lineno}: position {r.position} follows position "
                    f"{s.last_position}; records must be in strictly increasing position order"
                )
            s.last_position, s.lines = r.position, lineno
            if r.topic in KEY_TOPICS:
                s.key_rows.append(r)
            if r.position in wanted:
                s.chain_hashes[r.position] = r.chain_hash
        s.sha256, s.nbytes = sha.sha.hexdigest(), self._zip.getinfo(RECORDS).file_size
        self._scanned = s
        return s

    # LogSource ----------------------------------------------------------------------------

    def size(self) -> int:
        return self.scan().last_position

    def read(self, lo: int, hi: int) -> list[ChainRow]:
        if self._cursor is None or lo < self._cursor.serveable_from:
            self._cursor = _Cursor(self.lines(RECORDS))
        return self._cursor.take(lo, hi)

    def key_rows(self) -> list[ChainRow]:
        return list(self.scan().key_rows)

    def unchained(self) -> list[UnchainedRow]:
        out = []
        for lineno, line in self.lines(UNCHAINED):
            where = f"{UNCHAINED} line {lineno}"
            obj = _json(line, where)
            if type(obj) is not dict:
                raise BundleFormatError(f"{where} is not a JSON object")
            out.append(UnchainedRow(
                _field(obj, "notification_id", int, where), _field(obj, "originator_id", str, where),
                _field(obj, "originator_version", int, where), _field(obj, "topic", str, where),
            ))
        return out

    def checkpoints(self) -> list[str]:
        text = self.checkpoint_text()
        return [text] if text.strip() else []

    def worker_spec(self) -> Any:
        return ("bundle", self.path)


class _Cursor:
    """Forward-only reading of records.jsonl by position ranges.

    verify_log reads ranges in increasing order (each process its own share, plus the
    row before its range for the chain link), so one pass per process serves them all;
    lines before the range are skipped without being parsed.
    """

    def __init__(self, lines: Iterator[tuple[int, bytes]]) -> None:
        self.lines = lines
        self.kept: list[ChainRow] = []  # parsed rows that a later range may still need
        self.serveable_from = 1
        self.last = 0

    def take(self, lo: int, hi: int) -> list[ChainRow]:
        out = [r for r in self.kept if lo <= r.position <= hi]
        ahead = [r for r in self.kept if r.position > hi]
        while not ahead:
            item = next(self.lines, None)
            if item is None:
                break
            lineno, line = item
            quick = _quick_position(line)
            if quick is not None and quick < lo and quick > self.last:
                self.last = quick
                continue
            r = parse_record(line, lineno)
            if r.position <= self.last:
                raise BundleFormatError(
                    f"{RECORDS} line {lineno}: position {r.position} is out of order"
                )
            self.last = r.position
            if r.position < lo:
                continue
            if r.position > hi:
                ahead.append(r)
            else:
                out.append(r)
        self.kept = out[-1:] + ahead
        self.serveable_from = out[-1].position if out else lo
        return out


def _open_zip(path: str) -> zipfile.ZipFile:
    p = Path(path)
    if not p.exists():
        raise BundleFormatError(f"{path}: no such file")
    if p.is_dir():
        raise BundleFormatError(f"{path} is a directory, not an evidence bundle")
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise BundleFormatError(f"{path} is not an evidence bundle: not a readable zip file ({e})") from None
    names = zf.namelist()
    dupes = sorted({n for n in names if names.count(n) > 1})
    missing = [m for m in MEMBERS if m not in names]
    if dupes or missing:
        zf.close()
        problem = f"missing {', '.join(missing)}" if missing else f"duplicate members {', '.join(dupes)}"
        raise BundleFormatError(f"{path} is not a complete evidence bundle: {problem}")
    return zf


# Verifying --------------------------------------------------------------------------------


@dataclass
class BundleReport(Report):
    """A verification Report plus what the bundle says about itself."""

    checkpoint_size: int | None = None
    bundle: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = super().as_dict()
        d["bundle"] = {"path": self.bundle, "format": FORMAT_VERSION, "checkpoint_size": self.checkpoint_size}
        return d


def verify_bundle(
    path: str | os.PathLike[str],
    pinned_root: str | None = None,
    progress: Progress | None = None,
    *,
    workers: int | None = None,
    chunk: int = 5000,
) -> BundleReport:
    """Verify a bundle with no database: verify_log over it, plus the bundle's own checks.

    Raises BundleFormatError when the file is not a readable, complete bundle.
    """
    started = time.perf_counter()
    with BundleSource(path) as source:
        extra, cp_size = _bundle_faults(source, pinned_root)  # first: every member must be well-formed
        report = verify_log(source, pinned_root=pinned_root, workers=workers, chunk=chunk,
                            progress=progress)
    faults = sorted([*report.faults, *extra], key=lambda f: (f.position is None, f.position or 0, f.kind))
    base = {f.name: getattr(report, f.name) for f in fields(Report)}
    base.update(ok=not faults, faults=faults, fault_count=len(faults),
                seconds=time.perf_counter() - started)
    return BundleReport(**base, checkpoint_size=cp_size, bundle=str(path))


def _mismatch(detail: str, position: int | None = None) -> Fault:
    return Fault(position, None, None, "bundle-mismatch", detail)


def _bundle_faults(source: BundleSource, pinned_root: str | None) -> tuple[list[Fault], int | None]:
    """Manifest hashes and counts, keys.json, and the checkpoint's chain head."""
    faults: list[Fault] = []
    m, scan = source.manifest, source.scan()
    listed = m["members"]
    for name in MEMBERS[:-1]:
        if name not in listed:
            faults.append(_mismatch(f"{MANIFEST} does not list member {name}"))
    for name in sorted(set(source._zip.namelist()) - set(listed) - {MANIFEST}):
        faults.append(_mismatch(f"member {name} is not listed in {MANIFEST}"))
    for name in sorted(listed):
        if name not in MEMBERS[:-1]:
            faults.append(_mismatch(f"{MANIFEST} lists unknown member {name}"))
            continue
        if name == RECORDS:
            sha, nbytes = scan.sha256, scan.nbytes
        else:
            data = source.member(name)
            sha, nbytes = hashlib.sha256(data).hexdigest(), len(data)
        want = listed[name]
        if (want["sha256"], want["bytes"]) != (sha, nbytes):
            faults.append(_mismatch(
                f"member {name}: {nbytes} bytes with SHA-256 {sha}, the manifest says "
                f"{want['bytes']} bytes with SHA-256 {want['sha256']}"))
    unchained = len(source.unchained())
    keys_doc = source.keys_document()
    for name, actual in (("records", scan.lines), ("unchained", unchained)):
        if m[name] != actual:
            faults.append(_mismatch(f"{MANIFEST} counts {m[name]} {name}, the bundle holds {actual}"))
    if m["size"] > scan.last_position:
        faults.append(Fault(scan.last_position + 1, None, None, "missing-record",
            f"{MANIFEST} gives the log size as {m['size']}, {RECORDS} ends at position {scan.last_position}"))
    elif m["size"] < scan.last_position:
        faults.append(_mismatch(f"{MANIFEST} gives the log size as {m['size']}, {RECORDS} goes on to position {scan.last_position}"))
    derived = key_history(scan.key_rows)
    faults.extend(_keys_faults(derived, keys_doc))
    n_keys = len(keys_doc["keys"]) if type(keys_doc) is dict and type(keys_doc.get("keys")) is list else None
    for name, actual in (("origin", derived["origin"]), ("root_key_id", derived["root_key_id"]), ("keys", n_keys)):
        if m.get(name) != actual:
            faults.append(_mismatch(f"{MANIFEST} gives {name} {m.get(name)!r}, the log gives {actual!r}"))
    # The checkpoint: present, and its chain head is the chain hash at its size.
    text = source.checkpoint_text()
    cp_size: int | None = None
    if not text.strip():
        faults.append(Fault(None, None, None, "bad-checkpoint", f"{CHECKPOINT} is empty: the bundle carries no checkpoint"))
    else:
        try:
            cp_size = notes.parse(text)[0].size
        except CheckpointFormatError:
            pass  # verify_log reports it
        if cp_size is not None and m.get("checkpoint_size") != cp_size:
            faults.append(_mismatch(f"{MANIFEST} gives checkpoint_size {m.get('checkpoint_size')!r}, {CHECKPOINT} has size {cp_size}"))
        faults.extend(_chain_head_faults(text, scan, pinned_root))
    return faults, cp_size


def _chain_head_faults(text: str, scan: _Scan, pinned_root: str | None) -> list[Fault]:
    """A checkpoint that verifies must name the chain hash stored at its size."""
    timeline, _ = build_timeline(scan.key_rows, pinned_root)
    if timeline.root_key_id is None:
        return []
    try:
        cp = notes.verify(text, timeline.keys[timeline.root_key_id].public)
    except CheckpointFormatError:
        return []  # verify_log reports it
    stored = scan.chain_hashes.get(cp.size)
    if cp.origin != timeline.origin or stored is None or stored == cp.chain_head:
        return []
    return [Fault(cp.size, None, None, "checkpoint-mismatch",
                  f"checkpoint chain-head {cp.chain_head.hex()} differs from the chain hash "
                  f"{stored.hex()} stored at position {cp.size}")]


def _canonical(value: Any) -> bytes | None:
    try:
        return canonical_bytes(value)
    except Exception:  # noqa: BLE001 - anything without a canonical form differs
        return None


def _keys_faults(derived: dict[str, Any], claimed: Any) -> list[Fault]:
    """keys.json must equal the key history derived from the log (compared canonically)."""
    if type(claimed) is not dict or type(claimed.get("keys")) is not list:
        return [_mismatch(f"{KEYS} is not an object with a 'keys' list")]
    faults = []
    for name in ("format", "origin", "root_key_id"):
        if _canonical(claimed.get(name)) != _canonical(derived[name]):
            faults.append(_mismatch(f"{KEYS} gives {name} {claimed.get(name)!r}, the log gives {derived[name]!r}"))
    extra = set(claimed) - {"format", "origin", "root_key_id", "keys"}
    if extra:
        faults.append(_mismatch(f"{KEYS} has unexpected fields {', '.join(sorted(extra))}"))
    want = {k["key_id"]: k for k in derived["keys"]}
    have: dict[Any, Any] = {}
    for k in claimed["keys"]:
        kid = k.get("key_id") if type(k) is dict else None
        if type(kid) is not str or kid in have:
            faults.append(_mismatch(f"{KEYS} has a malformed or repeated key entry"))
            continue
        have[kid] = k
    for kid in sorted(set(want) | set(have)):
        if _canonical(want.get(kid)) == _canonical(have.get(kid)):
            continue
        at = (want.get(kid) or have[kid]).get("registered_at")
        position = at if type(at) is int else None
        if kid not in have:
            detail = f"key {kid[:16]}... registered in the log is missing from {KEYS}"
        elif kid not in want:
            detail = f"{KEYS} lists key {kid[:16]}..., which no authorised key event registered"
        else:
            detail = f"{KEYS} entry for key {kid[:16]}... differs from the key events in the log"
        faults.append(_mismatch(detail, position))
    return faults
