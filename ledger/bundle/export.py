"""Writing an evidence bundle, from a ledger or from any chain records."""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ledger import checkpoint as notes
from ledger.bundle.format import (
    CHECKPOINT,
    EXPORT_BATCH,
    FORMAT_MEMBER,
    FORMAT_VERSION,
    KEYS,
    MANIFEST,
    RECORDS,
    UNCHAINED,
    ZIP_TIME,
    MemberHasher,
    Progress,
    format_text,
    json_line,
    pretty_json,
    record_object,
)
from ledger.errors import CheckpointFormatError, LedgerError
from ledger.keyring import KEY_TOPICS
from ledger.rows import ChainRow, UnchainedRow
from ledger.verify import DatabaseSource, build_timeline, verify_log


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
            h = MemberHasher()
            zf.writestr(_zipinfo(name), h.add(data))
            members[name] = h.entry()

        put(FORMAT_MEMBER, format_text())
        h = MemberHasher()
        # force_zip64: the member's size is not known before it is written.
        with zf.open(_zipinfo(RECORDS), "w", force_zip64=True) as f:
            batch: list[bytes] = []
            for r in records:
                count += 1
                if r.topic in KEY_TOPICS and r.state is not None:
                    key_rows.append(r)
                batch.append(json_line(record_object(r)))
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
            json_line({"notification_id": u.notification_id, "originator_id": u.originator_id,
                   "originator_version": u.originator_version, "topic": u.topic})
            for u in unchained
        ))
        keys = key_history(key_rows)
        put(KEYS, pretty_json(keys))
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
        zf.writestr(_zipinfo(MANIFEST), pretty_json(manifest))
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
