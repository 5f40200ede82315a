"""Reading an evidence bundle: a `LogSource` for the verifier, with no database."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger import checkpoint as notes
from ledger.bundle.format import (
    CHECKPOINT,
    FORMAT_VERSION,
    KEYS,
    MANIFEST,
    MEMBERS,
    RECORDS,
    UNCHAINED,
    MemberHasher,
)
from ledger.errors import BundleFormatError, CheckpointFormatError
from ledger.keyring import KEY_TOPICS
from ledger.rows import ChainRow, UnchainedRow

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
class Scan:
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
        self._scanned: Scan | None = None
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

    def member_names(self) -> list[str]:
        """The names of the zip file's members, as stored."""
        return self._zip.namelist()

    # One validating pass over records.jsonl ---------------------------------------------

    def scan(self) -> Scan:
        if self._scanned is not None:
            return self._scanned
        s = Scan()
        try:
            wanted = {notes.parse(self.checkpoint_text())[0].size}
        except CheckpointFormatError:
            wanted = set()
        sha = MemberHasher()
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
