"""Issue 16: a damaged row (text where bytes belong) is a fault to report, never a 500:
the API's verification and the auditor's event page both answer."""

from __future__ import annotations

from tests.api.verifying import verification
from tests.support import set_chain_column


def test_verification_reports_a_wrong_typed_signature_as_malformed_row(api):
    position = api.size()
    set_chain_column(_pmo(api), position, "signature", "text, not bytes")
    response = verification(api.client, api.headers("auditor"))
    assert response.status_code == 200, response.data[:300]
    body = response.get_json()
    assert body["ok"] is False and body["fault_count"] >= 1
    assert (position, "malformed-row") in {(f["position"], f["kind"]) for f in body["faults"]}


def _pmo(api):  # noqa: ANN001, ANN202
    from web.ledger_access import get_pmo

    return get_pmo(api.app)
