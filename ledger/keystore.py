"""Private keys held by the server for web users, encrypted at rest (PKCS#8 + passphrase).

Keys are not events: only their public halves enter the log (see keyring.py).
"""

from __future__ import annotations

from typing import Any

from ledger.errors import KeyNotFoundError
from ledger.keys import Signer


class KeyStore:
    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder

    def put(self, signer: Signer, passphrase: str) -> None:
        self.recorder.execute(
            "INSERT INTO {keys} (key_id, owner, pkcs8) VALUES (?, ?, ?)",
            (signer.key_id, signer.owner, signer.encrypt(passphrase)),
        )

    def get(self, key_id: str, passphrase: str) -> Signer:
        rows = self.recorder.fetch("SELECT owner, pkcs8 FROM {keys} WHERE key_id = ?", (key_id,))
        if not rows:
            raise KeyNotFoundError(f"no private key {key_id[:16]}... is held by this server")
        owner, pem = rows[0]
        return Signer.decrypt(bytes(pem), passphrase, owner)

    def owners(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.recorder.fetch("SELECT key_id, owner FROM {keys}")}
