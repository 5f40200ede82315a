"""Issue 16: an approval in the fiscal officer's name, re-signed by an insider with the
auditor's key (held by the server) and re-chained, so that every signature and chain link
is valid. The signature no longer binds the person it names: verify and the audit page say so."""

from __future__ import annotations

from ledger.verify import DatabaseSource, verify_log
from tests.support import chain_row, resign
from tests.web.conftest import CODE, PW, text_of


def _approve_and_resign_with_the_auditors_key(site) -> int:  # noqa: ANN001
    client = site.sign_in("fiscal")
    response = client.post(f"/queues/fiscal/expenditure/{CODE}/EXP-0001/approve", data={"reason": "ok"})
    assert response.status_code == 302
    position = site.size()
    assert b"ExpenditureApproved" in chain_row(site.pmo, position).topic.encode()
    assert verify_log(DatabaseSource(site.pmo)).ok
    auditor = site.pmo.actor("auditor", PW).signer  # the custodial key the server holds
    resign(site.pmo, position, auditor)
    return position


def test_verify_reports_the_approval_signed_by_the_auditors_key(site):
    position = _approve_and_resign_with_the_auditors_key(site)
    report = verify_log(DatabaseSource(site.pmo))
    assert [(f.position, f.kind) for f in report.faults] == [(position, "actor-key-mismatch")]
    assert "'fiscal'" in report.faults[0].detail and "'auditor'" in report.faults[0].detail


def test_the_audit_page_shows_the_keys_owner_and_flags_the_mismatch(site):
    position = _approve_and_resign_with_the_auditors_key(site)
    page = site.as_user("auditor").get(f"/audit/events/{position}")
    assert page.status_code == 200
    text = text_of(page.data)
    assert "Signed by, the key's owner auditor" in text
    assert "not the person the event names" in text
    assert "actor-key-mismatch" in text


def test_a_clean_approval_shows_the_officer_as_the_keys_owner(site):
    client = site.sign_in("fiscal")
    assert client.post(f"/queues/fiscal/expenditure/{CODE}/EXP-0001/approve", data={}).status_code == 302
    text = text_of(site.as_user("auditor").get(f"/audit/events/{site.size()}").data)
    assert "Signed by, the key's owner fiscal" in text
    assert "not the person the event names" not in text


def test_the_event_page_of_a_damaged_row_answers_and_says_so(site):
    from tests.support import set_chain_column

    position = site.size()
    set_chain_column(site.pmo, position, "signature", "text, not bytes")
    page = site.as_user("auditor").get(f"/audit/events/{position}")
    assert page.status_code == 200
    assert "malformed-row" in text_of(page.data)


def test_a_position_the_read_models_never_took_still_opens_from_the_log(site):
    """The integrity banner links to the first faulty position, which the read models
    refuse to take: the page reads it from the log itself."""
    from tests.support import flip_payload_byte
    from web.pages.events import chain_log_row

    position = site.size()
    row = chain_log_row(site.pmo, position)
    assert row is not None and row.actor_id == "pm" and row.recorded_at is not None
    flip_payload_byte(site.pmo, position, b'"G0"', b'"G9"')
    page = site.as_user("auditor").get(f"/audit/events/{position}")
    assert page.status_code == 200
    assert "bad-signature" in text_of(page.data)
    assert site.as_user("auditor").get(f"/audit/events/{position + 1}").status_code == 404
