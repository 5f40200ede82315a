"""Chain rows as the recorders read them: `to_chain_rows` converts whole columns at once,
and must give what converting row by row gives, for clean and for tampered rows."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from ledger.recorders.chain import canonical_id, to_chain_rows
from ledger.rows import ChainRow, column_as


def one_by_one(rows: list[tuple]) -> list[ChainRow]:
    """The plain reading of one row: what each column means (ledger/rows.py)."""
    out = []
    for r in rows:
        e_oid = None if r[7] is None else canonical_id(r[7])
        c_oid = e_oid if r[2] == r[7] else r[2]
        out.append(ChainRow(int(r[0]), int(r[1]), str(c_oid), int(r[3]), str(r[4]), bytes(r[5]),
                            bytes(r[6]), e_oid, None if r[8] is None else int(r[8]), r[9],
                            None if r[10] is None else bytes(r[10])))
    return out


A, B = uuid4(), uuid4()


def row(position: int, c_oid: Any, e_oid: Any, *, state: Any = b'{"a":1}', sig: Any = b"s" * 64,
        e_ver: int | None = 1) -> tuple:
    return (position, position, c_oid, 1, "k" * 64, sig, b"h" * 32, e_oid, e_ver,
            None if e_oid is None else "domain.project:Project.Chartered", state)


CASES = {
    # SQLite: both ids are the row's own hex text.
    "sqlite": [row(1, A.hex, A.hex), row(2, B.hex, B.hex), row(3, A.hex, A.hex)],
    # PostgreSQL: the chain's text copy beside the event's id as text.
    "postgresql": [row(1, str(A), str(A)), row(2, str(B), str(B))],
    # A driver giving the event's id as a UUID and bytes as memoryviews.
    "uuid and memoryview": [row(1, str(A), A, state=memoryview(b"{}"), sig=memoryview(b"s" * 64))],
    # A chain position whose event row is gone (the LEFT JOIN found nothing).
    "missing event": [row(1, str(A), str(A)), row(2, str(B), None, state=None, e_ver=None)],
    # Two rows swapped: the chain's copy names another aggregate than the event.
    "swapped": [row(1, str(A), str(B)), row(2, str(B), str(A))],
    # SQLite, an event id set to NULL behind the ledger's back (the chain's copy too).
    "null id": [row(1, A.hex, A.hex), row(2, None, None, state=None, e_ver=None)],
    # An id that is no UUID stays as stored.
    "not a uuid": [row(1, "not-a-uuid", "not-a-uuid")],
}


@pytest.mark.parametrize("case", list(CASES))
def test_whole_columns_read_as_each_row_alone(case: str) -> None:
    rows = CASES[case]
    got = to_chain_rows(rows)
    want = one_by_one(rows)
    assert got == want
    for g, w in zip(got, want, strict=True):
        assert isinstance(g, ChainRow)
        assert [type(x) for x in g] == [type(x) for x in w]


def test_the_canonical_text_of_a_hex_id_is_the_uuid() -> None:
    got = to_chain_rows(CASES["sqlite"])
    assert [r.originator_id for r in got] == [str(A), str(B), str(A)]
    assert [r.event_originator_id for r in got] == [str(A), str(B), str(A)]
    assert UUID(got[0].originator_id) == A


def test_no_rows() -> None:
    assert to_chain_rows([]) == []


def test_columns_are_converted_only_where_needed_and_none_kept_where_asked() -> None:
    column = (b"a", None, b"b")
    assert column_as(column, bytes, none=True) is column  # nothing to convert: the same tuple
    assert column_as((memoryview(b"x"), None), bytes, none=True) == (b"x", None)
    # An edited row's values are left as they are, for the verifier's `malformed-row`.
    assert column_as(("1", 2, 3.0), int) == ("1", 2, 3.0)
    assert column_as((memoryview(b"x"), None, "text"), bytes) == (b"x", None, "text")
