"""A web app given its passphrase in its settings (not the environment) seals snapshots:
without it, the process would write none and every load would fold all the events."""

from __future__ import annotations

from web.ledger_access import get_pmo


def test_the_settings_passphrase_unlocks_the_snapshot_sealer(api, monkeypatch):
    monkeypatch.delenv("PMO_LEDGER_PASSPHRASE", raising=False)
    pmo = get_pmo(api.app)
    sealer = pmo.snapshot_sealer()
    assert sealer is not None and sealer.key_id == pmo.keyring().root_key_id
