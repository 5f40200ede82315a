"""Named errors of the ledger. Each says what went wrong in words an operator can act on."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""

    code = "ledger-error"


class BackendURLError(LedgerError):
    """The database URL names no backend the ledger supports."""

    code = "bad-backend-url"


class BackendUnavailableError(LedgerError):
    """The database could not be reached or opened."""

    code = "backend-unavailable"


class StorageLayoutError(LedgerError):
    """The database holds a ledger in a storage layout this version does not read."""

    code = "storage-layout"


class NotInitialisedError(LedgerError):
    """The database has no ledger yet (`pmo-ledger init` was not run)."""

    code = "not-initialised"


class AlreadyInitialisedError(LedgerError):
    """`init` was asked to create a ledger where one already exists."""

    code = "already-initialised"


class CanonicalEncodingError(LedgerError, ValueError):
    """A payload holds a value with no canonical encoding (a float, a naive datetime...)."""

    code = "canonical-encoding"


class KeyPassphraseError(LedgerError):
    """A private key could not be decrypted with the configured passphrase."""

    code = "bad-passphrase"


class KeyNotFoundError(LedgerError):
    """No key with that id is registered (or held, for private keys)."""

    code = "unknown-key"


class KeyRevokedError(LedgerError):
    """The key was revoked; nothing more may be signed with it."""

    code = "revoked-key"


class NotAuthorisedToRegisterKeysError(LedgerError):
    """The signing key may not register or revoke other keys."""

    code = "not-authorised"


class ActorKeyMismatchError(LedgerError):
    """An event names one person as its actor but would be signed with another's key."""

    code = "actor-key-mismatch"


class EventTooLargeError(LedgerError):
    """An event's payload is over the ledger's size limit (recorders.MAX_PAYLOAD_BYTES)."""

    code = "event-too-large"


class MissingSignerError(LedgerError):
    """Events were saved without a signing context: nothing unsigned enters the log."""

    code = "missing-signer"


class VersionConflictError(LedgerError):
    """Someone else changed the same record first. Reload and try again."""

    code = "conflict"


class CheckpointFormatError(LedgerError):
    """A checkpoint file is not a well-formed signed note."""

    code = "bad-checkpoint"


class BundleFormatError(LedgerError):
    """An evidence bundle is unreadable or incomplete."""

    code = "bad-bundle"
