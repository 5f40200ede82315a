"""The read models' own read of the chain (the ledger port's read_entries) gives the ledger's ChainRows
less the signature and hash -- tampered rows included -- and the split-purchase rule's
running totals fall back to adding each window up wherever a running total could round."""

from __future__ import annotations

from decimal import Decimal

from domain.compliance.evaluator import _running_totals
from ledger.rows import LogRow
from tests.domain.helpers import World
from tests.readmodels.test_tracking import history
from tests.support import embedded, set_state


def test_log_rows_are_the_ledgers_chain_rows_field_for_field(any_world: World) -> None:
    """On both backends (each has a lean select of its own), tampered rows included: a
    payload that is not JSON, and a chain position whose event row is gone (PostgreSQL:
    the chain is a table of its own) or whose originator id was nulled (SQLite)."""
    history(any_world)
    app = any_world.app
    size = app.size()
    set_state(app, size - 1, b"not json")  # read as stored: judging it is the decoder's work
    nid = app.read_chain(size - 2, size - 2)[0].notification_id
    if embedded(app):
        app.recorder.execute("UPDATE {events} SET originator_id = NULL WHERE {nid} = ?", (nid,))
    else:
        app.recorder.execute("DELETE FROM {events} WHERE {nid} = ?", (nid,))
    ours, theirs = app.read_entries(1, size), app.read_chain(1, size)
    assert len(ours) == len(theirs) == size
    for mine, chain in zip(ours, theirs, strict=True):
        assert type(mine) is LogRow
        for name in LogRow._fields:
            value = getattr(chain, name)
            assert getattr(mine, name) == value and type(getattr(mine, name)) is type(value), name
    assert ours[-3].event_originator_id is None and ours[-3].state in (None, theirs[-3].state)
    assert app.read_entries(size + 1, size + 5) == []
    assert [r.position for r in app.read_entries(3, 5)] == [3, 4, 5]


def test_running_totals_are_exact_or_not_given() -> None:
    amounts = [Decimal("10.00"), Decimal("2500.50"), Decimal("0.05")]
    totals = _running_totals(amounts)
    assert totals == [Decimal(0), Decimal("10.00"), Decimal("2510.50"), Decimal("2510.55")]
    assert totals[3] - totals[1] == amounts[1] + amounts[2]
    # More than cents, or sums near the context's precision: each window added up instead.
    assert _running_totals([Decimal("1.005"), Decimal("1")]) is None
    assert _running_totals([Decimal("9E23"), Decimal("9E23")]) is None
    assert _running_totals([Decimal("NaN")]) is None
    assert _running_totals([]) == [Decimal(0)]
