"""The secrets an evidence bundle never carries, carried separately: `keys export/import`.

A bundle holds no secrets, so a ledger restored from one is readable and verifiable but
holds no private key: nobody could sign a new act, nor register a new key (that needs a
key allowed to register keys). The secrets file carries what the server held:

- the private keys, exactly as stored: PKCS#8 PEM already encrypted under the server's
  passphrase (nothing is decrypted on the way; the passphrase is not in the file);
- side tables an application names (the PMO app: password hashes and API token hashes).

It is JSON, labelled SECRET, written with mode 0600 to a new file. Importing refuses a
file for another ledger (origin and root key must match), keys the ledger's key ring does
not hold, and a ledger that already holds private keys or credentials; everything goes in
in one transaction.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ledger.errors import LedgerError

FORMAT = "pmo-ledger-secrets/1"
WARNING = ("SECRET: private signing keys (encrypted under the ledger passphrase) and credential "
           "hashes. Keep it like the database itself; never share it with an auditor.")

# A side table: (name, its columns), the first column being its key.
Table = tuple[str, Sequence[str]]


class SecretsFileError(LedgerError):
    """A secrets file is unreadable, for another ledger, or would overwrite something."""

    code = "bad-secrets-file"


def _prefixed(app: Any, name: str) -> str:
    return f"{getattr(app.recorder, 'schema_prefix', '')}{name}"


def export_secrets(app: Any, path: str | os.PathLike[str], tables: Sequence[Table] = ()) -> dict[str, int]:
    """Write the key store and `tables` of the ledger `app` to a new file (mode 0600)."""
    ring = app.keyring()
    doc: dict[str, Any] = {
        "format": FORMAT, "warning": WARNING, "origin": ring.origin, "root_key_id": ring.root_key_id,
        "private_keys": [{"key_id": k, "owner": o, "pkcs8": bytes(pem).decode("ascii")}
                         for k, o, pem in app.recorder.fetch("SELECT key_id, owner, pkcs8 FROM {keys} ORDER BY key_id")],
        "tables": {name: [list(r) for r in app.recorder.fetch(
            f"SELECT {', '.join(cols)} FROM {_prefixed(app, name)} ORDER BY {cols[0]}")]
            for name, cols in tables},
    }
    data = (json.dumps(doc, indent=1) + "\n").encode("ascii")
    try:  # O_EXCL: never over an existing file; 0600 from the start, not chmod'ed later
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SecretsFileError(f"{path} already exists; refusing to overwrite it") from None
    except OSError as e:
        raise SecretsFileError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return {"keys": len(doc["private_keys"]), **{n: len(rows) for n, rows in doc["tables"].items()}}


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text("ascii"))
    except FileNotFoundError:
        raise SecretsFileError(f"{path}: no such file") from None
    except (OSError, ValueError) as e:
        raise SecretsFileError(f"{path} is not a secrets file: {e}") from None
    if type(doc) is not dict or doc.get("format") != FORMAT or type(doc.get("private_keys")) is not list \
            or type(doc.get("tables")) is not dict:
        raise SecretsFileError(f"{path} is not a secrets file ({FORMAT})")
    return doc


def import_secrets(app: Any, path: str | os.PathLike[str], tables: Sequence[Table] = ()) -> dict[str, int]:
    """Put a secrets file's keys and `tables` into the ledger `app`, all or nothing."""
    doc = _read(path)
    ring = app.keyring()
    if (doc.get("origin"), doc.get("root_key_id")) != (ring.origin, ring.root_key_id):
        raise SecretsFileError(f"{path} belongs to ledger {doc.get('origin')!r}, not to this one ({ring.origin!r})")
    statements: list[tuple[str, Sequence[Any]]] = []
    for k in doc["private_keys"]:
        if type(k) is not dict or k.get("key_id") not in ring.keys or type(k.get("pkcs8")) is not str:
            raise SecretsFileError(f"{path}: a private key entry is malformed or not registered in this ledger")
        statements.append(("INSERT INTO {keys} (key_id, owner, pkcs8) VALUES (?, ?, ?)",
                           (k["key_id"], str(k.get("owner", "")), k["pkcs8"].encode("ascii"))))
    for name, cols in tables:
        for row in doc["tables"].get(name, []):
            if type(row) is not list or len(row) != len(cols):
                raise SecretsFileError(f"{path}: a row of {name} does not have its {len(cols)} columns")
            statements.append((f"INSERT INTO {_prefixed(app, name)} ({', '.join(cols)}) "
                               f"VALUES ({', '.join('?' * len(cols))})", row))
    held = int(app.recorder.fetch("SELECT COUNT(*) FROM {keys}")[0][0]) + sum(
        int(app.recorder.fetch(f"SELECT COUNT(*) FROM {_prefixed(app, n)}")[0][0]) for n, _ in tables)
    if held:
        raise SecretsFileError("this ledger already holds private keys or credentials; import secrets "
                               "only into a freshly restored ledger")
    _in_one_transaction(app.recorder, statements)
    return {"keys": len(doc["private_keys"]), **{n: len(doc["tables"].get(n, [])) for n, _ in tables}}


def _in_one_transaction(recorder: Any, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
    if recorder.chain_embedded:  # SQLite
        with recorder.datastore.transaction(commit=True) as c:
            for sql, params in statements:
                c.execute(recorder.q(sql), params)
        return
    with recorder.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
        for sql, params in statements:
            curs.execute(recorder.q(sql), params)
