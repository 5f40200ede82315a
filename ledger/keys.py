"""Ed25519 keys: generation, fingerprints, encryption at rest, and the signing context."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import KeyPassphraseError
from ledger.hashing import signed_message

PASSPHRASE_ENV = "PMO_LEDGER_PASSPHRASE"
# Used only by `pmo-ledger demo` when no passphrase is configured, and always announced.
DEMO_PASSPHRASE = "demo-passphrase-NOT-FOR-PRODUCTION"


def key_id(public_key: bytes) -> str:
    """A key's fingerprint: hex SHA-256 of its raw 32-byte public key."""
    return hashlib.sha256(public_key).hexdigest()


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_signature(public: Ed25519PublicKey, signature: bytes, rec_hash: bytes) -> bool:
    """True when `signature` is this key's signature over the record hash."""
    try:
        public.verify(signature, signed_message(rec_hash))
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class Signer:
    """The signing context of one person acting: passed down to the recorder, never global.

    `owner` is informational (the person or service the key belongs to); `key_id` is what
    the log records next to each signature.
    """

    private_key: Ed25519PrivateKey
    owner: str = ""

    @property
    def public_bytes(self) -> bytes:
        return raw_public(self.private_key.public_key())

    @property
    def key_id(self) -> str:
        return key_id(self.public_bytes)

    def sign(self, rec_hash: bytes) -> bytes:
        return self.private_key.sign(signed_message(rec_hash))

    @classmethod
    def generate(cls, owner: str = "") -> Signer:
        return cls(Ed25519PrivateKey.generate(), owner)

    def encrypt(self, passphrase: str) -> bytes:
        """PKCS#8 PEM, encrypted with the passphrase (the library's best available scheme)."""
        if not passphrase:
            raise KeyPassphraseError("an empty passphrase cannot protect a private key")
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )

    @classmethod
    def decrypt(cls, pem: bytes, passphrase: str, owner: str = "") -> Signer:
        try:
            key = serialization.load_pem_private_key(pem, passphrase.encode())
        except (ValueError, TypeError):
            raise KeyPassphraseError(
                f"cannot decrypt the private key of {owner or 'this key'}: wrong passphrase "
                f"(set {PASSPHRASE_ENV} to the one used at init)"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyPassphraseError("stored private key is not an Ed25519 key")
        return cls(key, owner)


def configured_passphrase(default: str | None = None) -> str:
    """The passphrase from the environment, or `default`; an error when neither exists."""
    value = os.environ.get(PASSPHRASE_ENV) or default
    if not value:
        raise KeyPassphraseError(f"no key passphrase: set {PASSPHRASE_ENV}")
    return value
