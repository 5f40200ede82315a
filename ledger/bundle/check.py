"""Verifying an evidence bundle: `verify_log` over it, plus the checks of the bundle itself."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, fields
from typing import Any

from ledger import checkpoint as notes
from ledger.bundle import format as member  # the bundle's member names: member.RECORDS, ...
from ledger.bundle.export import key_history
from ledger.bundle.format import FORMAT_VERSION, Progress
from ledger.bundle.source import BundleSource, Scan
from ledger.canonical import canonical_bytes
from ledger.errors import CheckpointFormatError
from ledger.verify import Fault, Report, build_timeline, verify_log

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
    for name in member.MEMBERS[:-1]:
        if name not in listed:
            faults.append(_mismatch(f"{member.MANIFEST} does not list member {name}"))
    for name in sorted(set(source.member_names()) - set(listed) - {member.MANIFEST}):
        faults.append(_mismatch(f"member {name} is not listed in {member.MANIFEST}"))
    for name in sorted(listed):
        if name not in member.MEMBERS[:-1]:
            faults.append(_mismatch(f"{member.MANIFEST} lists unknown member {name}"))
            continue
        if name == member.RECORDS:
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
            faults.append(_mismatch(f"{member.MANIFEST} counts {m[name]} {name}, the bundle holds {actual}"))
    if m["size"] > scan.last_position:
        faults.append(Fault(scan.last_position + 1, None, None, "missing-record",
            f"{member.MANIFEST} gives the log size as {m['size']}, {member.RECORDS} ends at position {scan.last_position}"))
    elif m["size"] < scan.last_position:
        faults.append(_mismatch(f"{member.MANIFEST} gives the log size as {m['size']}, {member.RECORDS} goes on to position {scan.last_position}"))
    derived = key_history(scan.key_rows)
    faults.extend(_keys_faults(derived, keys_doc))
    n_keys = len(keys_doc["keys"]) if type(keys_doc) is dict and type(keys_doc.get("keys")) is list else None
    for name, actual in (("origin", derived["origin"]), ("root_key_id", derived["root_key_id"]), ("keys", n_keys)):
        if m.get(name) != actual:
            faults.append(_mismatch(f"{member.MANIFEST} gives {name} {m.get(name)!r}, the log gives {actual!r}"))
    # The checkpoint: present, and its chain head is the chain hash at its size.
    text = source.checkpoint_text()
    cp_size: int | None = None
    if not text.strip():
        faults.append(Fault(None, None, None, "bad-checkpoint", f"{member.CHECKPOINT} is empty: the bundle carries no checkpoint"))
    else:
        try:
            cp_size = notes.parse(text)[0].size
        except CheckpointFormatError:
            pass  # verify_log reports it
        if cp_size is not None and m.get("checkpoint_size") != cp_size:
            faults.append(_mismatch(f"{member.MANIFEST} gives checkpoint_size {m.get('checkpoint_size')!r}, {member.CHECKPOINT} has size {cp_size}"))
        faults.extend(_chain_head_faults(text, scan, pinned_root))
    return faults, cp_size


def _chain_head_faults(text: str, scan: Scan, pinned_root: str | None) -> list[Fault]:
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
        return [_mismatch(f"{member.KEYS} is not an object with a 'keys' list")]
    faults = []
    for name in ("format", "origin", "root_key_id"):
        if _canonical(claimed.get(name)) != _canonical(derived[name]):
            faults.append(_mismatch(f"{member.KEYS} gives {name} {claimed.get(name)!r}, the log gives {derived[name]!r}"))
    extra = set(claimed) - {"format", "origin", "root_key_id", "keys"}
    if extra:
        faults.append(_mismatch(f"{member.KEYS} has unexpected fields {', '.join(sorted(extra))}"))
    want = {k["key_id"]: k for k in derived["keys"]}
    have: dict[Any, Any] = {}
    for k in claimed["keys"]:
        kid = k.get("key_id") if type(k) is dict else None
        if type(kid) is not str or kid in have:
            faults.append(_mismatch(f"{member.KEYS} has a malformed or repeated key entry"))
            continue
        have[kid] = k
    for kid in sorted(set(want) | set(have)):
        if _canonical(want.get(kid)) == _canonical(have.get(kid)):
            continue
        at = (want.get(kid) or have[kid]).get("registered_at")
        position = at if type(at) is int else None
        if kid not in have:
            detail = f"key {kid[:16]}... registered in the log is missing from {member.KEYS}"
        elif kid not in want:
            detail = f"{member.KEYS} lists key {kid[:16]}..., which no authorised key event registered"
        else:
            detail = f"{member.KEYS} entry for key {kid[:16]}... differs from the key events in the log"
        faults.append(_mismatch(detail, position))
    return faults
