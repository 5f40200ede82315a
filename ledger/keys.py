"""Ed25519 keys: generation, fingerprints, encryption at rest, and the signing context."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import KeyPassphraseError
from ledger.hashing import signed_message

try:
    # libsodium (through PyNaCl's cffi module) signs about 1.6x faster than OpenSSL on
    # the machines measured (see `pmo-ledger bench`), and releases the GIL while it does,
    # so a large save is signed on every core. Ed25519 signatures are deterministic
    # (RFC 8032): the bytes are the same whichever library makes them (tests check it).
    # Without PyNaCl, OpenSSL signs, one at a time. Only PyNaCl's public bindings are used.
    from nacl import bindings as _sodium
except ImportError:  # pragma: no cover - PyNaCl is a dependency; this is a fallback
    _sodium = None

# Batches at least this large are split across cores (a thread hand-off costs ~50 us).
PARALLEL_SIGN_MIN = 16
_sign_pool: ThreadPoolExecutor | None = None
_sign_pool_lock = threading.Lock()

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

    # Computed once per Signer: a save asks for them on every call.
    @cached_property
    def public_bytes(self) -> bytes:
        return raw_public(self.private_key.public_key())

    @cached_property
    def key_id(self) -> str:
        return key_id(self.public_bytes)

    def sign(self, rec_hash: bytes) -> bytes:
        return self._sign_messages([signed_message(rec_hash)])[0]

    def sign_many(self, rec_hashes: Sequence[bytes]) -> list[bytes]:
        """The signatures of several record hashes, in order; large batches use every core."""
        messages = [signed_message(h) for h in rec_hashes]
        # The batch size first: most saves hold a few events, and asking the OS for the
        # CPUs this process may use is a system call (2 us: 1% of a one-event save).
        if _sodium is None or len(messages) < PARALLEL_SIGN_MIN or (cores := usable_cpus()) < 2:
            return self._sign_messages(messages)
        size = -(-len(messages) // cores)
        parts = [messages[i:i + size] for i in range(0, len(messages), size)]
        pool = _pool(cores - 1)
        futures = [pool.submit(self._sign_messages, part) for part in parts[1:]]
        signatures = self._sign_messages(parts[0])  # this thread does its share
        for f in futures:
            signatures.extend(f.result())
        return signatures

    @cached_property
    def _sign_messages(self) -> Callable[[Sequence[bytes]], list[bytes]]:
        if _sodium is None:
            sign = self.private_key.sign
            return lambda messages: [sign(m) for m in messages]
        # libsodium's secret key is seed || public key.
        _, secret = _sodium.crypto_sign_seed_keypair(self.private_key.private_bytes_raw())
        crypto_sign = _sodium.crypto_sign

        def sign_all(messages: Sequence[bytes]) -> list[bytes]:
            # crypto_sign returns signature || message.
            return [crypto_sign(m, secret)[:64] for m in messages]

        return sign_all

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


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, where the system tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _pool(workers: int) -> ThreadPoolExecutor:
    global _sign_pool
    with _sign_pool_lock:
        if _sign_pool is None:
            _sign_pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ledger-sign")
        return _sign_pool


def configured_passphrase(default: str | None = None) -> str:
    """The passphrase from the environment, or `default`; an error when neither exists."""
    value = os.environ.get(PASSPHRASE_ENV) or default
    if not value:
        raise KeyPassphraseError(f"no key passphrase: set {PASSPHRASE_ENV}")
    return value
