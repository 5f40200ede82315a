"""The key ring: which public keys may sign, and from when to when, recorded in the log.

Key registration and revocation are ledger events signed by an authorised key (the root
key, or a key registered with `may_register_keys`), so the log alone says which key was
valid at every position. The first event of every ledger starts the key ring with the
root key, signed by that key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.errors import (
    ActorKeyMismatchError,
    KeyNotFoundError,
    KeyRevokedError,
    NotAuthorisedToRegisterKeysError,
)

KEYRING_ID = uuid5(NAMESPACE_URL, "urn:pmo-ledger:keyring")


class KeyRing(Aggregate):
    """Every signing key the ledger has known, with its owner and status."""

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        return KEYRING_ID

    @event("Started")
    def __init__(
        self,
        origin: str,
        root_key_id: str,
        root_public_key: str,
        actor_id: str,
        actor_name: str,
        meaning: str = "responsibility",
        reason: str = "ledger initialised",
    ) -> None:
        self.origin = origin
        self.root_key_id = root_key_id
        self.keys: dict[str, dict[str, Any]] = {
            root_key_id: _key_state(root_public_key, "ledger-root", True)
        }

    # Rules ---------------------------------------------------------------------------

    def check_key_usable(self, key_id: str) -> None:
        state = self.keys.get(key_id)
        if state is None:
            raise KeyNotFoundError(f"key {key_id[:16]}... is not registered in the ledger")
        if state["revoked"]:
            raise KeyRevokedError(
                f"key {key_id[:16]}... of {state['owner']} was revoked; it can no longer sign"
            )

    def check_acts_for(self, key_id: str, actors: Iterable[Any]) -> None:
        """Every event names as its actor the person whose key signs it (the root key's
        owner is the ledger itself, "ledger-root"); verification checks the same."""
        owner = self.keys[key_id]["owner"]
        for actor in actors:
            if actor != owner:
                raise ActorKeyMismatchError(
                    f"an event in the name of {actor!r} cannot be signed with key "
                    f"{key_id[:16]}... of {owner!r}: each person signs their own acts")

    def check_may_register(self, by_key_id: str) -> None:
        self.check_key_usable(by_key_id)
        if not self.keys[by_key_id]["may_register_keys"]:
            raise NotAuthorisedToRegisterKeysError(
                f"key {by_key_id[:16]}... of {self.keys[by_key_id]['owner']} "
                "is not allowed to register or revoke keys"
            )

    # Commands ------------------------------------------------------------------------

    def register_key(
        self, *, key_id: str, public_key: str, owner: str, may_register_keys: bool,
        by_key_id: str, actor_id: str, actor_name: str, reason: str = "",
    ) -> None:
        self.check_may_register(by_key_id)
        if key_id in self.keys:
            raise NotAuthorisedToRegisterKeysError(f"key {key_id[:16]}... is already registered")
        self._key_registered(
            key_id=key_id, public_key=public_key, owner=owner,
            may_register_keys=may_register_keys, by_key_id=by_key_id,
            actor_id=actor_id, actor_name=actor_name, reason=reason, meaning="responsibility",
        )

    def revoke_key(
        self, *, key_id: str, by_key_id: str, actor_id: str, actor_name: str, reason: str
    ) -> None:
        self.check_may_register(by_key_id)
        self.check_key_usable(key_id)
        if key_id == self.root_key_id:
            raise NotAuthorisedToRegisterKeysError("the ledger root key cannot be revoked")
        self._key_revoked(
            key_id=key_id, by_key_id=by_key_id, actor_id=actor_id, actor_name=actor_name,
            reason=reason, meaning="responsibility",
        )

    # Events --------------------------------------------------------------------------

    @event("KeyRegistered")
    def _key_registered(
        self, key_id: str, public_key: str, owner: str, may_register_keys: bool,
        by_key_id: str, actor_id: str, actor_name: str, reason: str, meaning: str,
    ) -> None:
        self.keys[key_id] = _key_state(public_key, owner, may_register_keys)

    @event("KeyRevoked")
    def _key_revoked(
        self, key_id: str, by_key_id: str, actor_id: str, actor_name: str, reason: str,
        meaning: str,
    ) -> None:
        self.keys[key_id]["revoked"] = True


def _key_state(public_key: str, owner: str, may_register_keys: bool) -> dict[str, Any]:
    return {
        "public_key": public_key, "owner": owner,
        "may_register_keys": may_register_keys, "revoked": False,
    }


STARTED_TOPIC = "ledger.keyring:KeyRing.Started"
REGISTERED_TOPIC = "ledger.keyring:KeyRing.KeyRegistered"
REVOKED_TOPIC = "ledger.keyring:KeyRing.KeyRevoked"
KEY_TOPICS = (STARTED_TOPIC, REGISTERED_TOPIC, REVOKED_TOPIC)
