"""The bundle format's names and encodings (FORMAT.md): shared by writing and reading."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from ledger.rows import ChainRow

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


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def record_object(r: ChainRow) -> dict[str, Any]:
    """The records.jsonl object of one chain position."""
    obj: dict[str, Any] = {
        "position": r.position,
        "notification_id": r.notification_id,
        "originator_id": r.originator_id,
        "originator_version": r.originator_version,
        "topic": r.topic if r.state is not None else None,
        "state": b64(r.state) if r.state is not None else None,
        "key_id": r.key_id,
        "signature": b64(r.signature),
        "chain_hash": b64(r.chain_hash),
    }
    if r.state is not None and (r.event_originator_id, r.event_originator_version) != (
        r.originator_id, r.originator_version
    ):
        # The stored event at notification_id is not the one the chain row names.
        obj["event_originator_id"] = r.event_originator_id
        obj["event_originator_version"] = r.event_originator_version
    return obj


def json_line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii") + b"\n"


def pretty_json(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=True).encode("ascii") + b"\n"


class MemberHasher:
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
