"""The speed-ups must not change a byte: the canonical encoder and the signers against the
plain definitions (the `rfc8785` package, OpenSSL)."""

from __future__ import annotations

import os
import string
from datetime import UTC, timedelta, timezone

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import keys
from ledger.canonical import canonical_transcoder
from ledger.errors import CanonicalEncodingError
from ledger.hashing import signed_message
from ledger.keys import Signer
from tools.bench.ledger import expenditure

transcoder = canonical_transcoder()


def general_path(obj: object) -> object:
    """The encoding by definition: registered types tagged, then the `rfc8785` package."""
    try:
        return rfc8785.dumps(transcoder._to_plain(obj))
    except (CanonicalEncodingError, UnicodeEncodeError, rfc8785.CanonicalizationError):
        return "refused"


def encoded(obj: object) -> object:
    try:
        return transcoder.encode(obj)
    except CanonicalEncodingError:
        return "refused"


scalars = st.one_of(
    st.text(), st.booleans(), st.none(), st.integers(min_value=-(2**60), max_value=2**60),
    st.decimals(allow_nan=False, allow_infinity=False, places=2), st.dates(), st.uuids(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3, minutes=-30))])),
    st.datetimes(),  # naive: refused
    st.floats(),  # refused
    st.characters().map(lambda c: c + "\ud800"),  # a lone surrogate: refused
)
keys_ = st.one_of(st.text(alphabet=string.ascii_letters + "_", max_size=12), st.text(max_size=3),
                  st.integers(0, 3))
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys_, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(keys_, values, max_size=15))
def test_encoding_of_payload_dicts_is_rfc8785_of_their_tagged_form(payload: dict) -> None:
    assert encoded(payload) == general_path(payload)


@settings(max_examples=300, deadline=None)
@given(values)
def test_encoding_of_any_value_is_rfc8785_of_its_tagged_form(value: object) -> None:
    assert encoded(value) == general_path(value)


def test_benchmark_payload_encodes_the_same_both_ways() -> None:
    for i in range(50):
        assert transcoder.encode(expenditure(i)) == general_path(expenditure(i))


@pytest.mark.parametrize("n", [0, 1, 2, keys.PARALLEL_SIGN_MIN - 1, keys.PARALLEL_SIGN_MIN, 101])
def test_signatures_are_the_ones_openssl_makes(n: int) -> None:
    signer = Signer.generate("t")
    hashes = [os.urandom(32) for _ in range(n)]
    expected = [signer.private_key.sign(signed_message(h)) for h in hashes]
    assert signer.sign_many(hashes) == expected
    assert [signer.sign(h) for h in hashes] == expected


def test_signatures_without_libsodium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "_sodium", None)
    private = Ed25519PrivateKey.generate()
    signer = Signer(private, "t")
    hashes = [os.urandom(32) for _ in range(40)]
    assert signer.sign_many(hashes) == [private.sign(signed_message(h)) for h in hashes]


def test_key_check_in_the_write_transaction_sees_another_process_revoking(ledger, alice, open_app) -> None:
    """The key is checked inside the write transaction against the ring's version there:
    a revocation made through another application is honoured, and nothing is written."""
    from decimal import Decimal

    from ledger.errors import KeyRevokedError
    from ledger.verify import DatabaseSource, verify_log
    from tests.support import Counter, snapshot_of_tables

    app, root = ledger
    app.save(Counter("before"), signer=alice)  # the ring is now cached by `app`
    other = open_app()
    bob = Signer.generate("bob")
    other.register_key(bob.public_bytes, "bob", by=root, actor_id="ledger-root", actor_name="Root")
    app.save(Counter("by bob"), signer=bob)  # registered elsewhere: the ring is reloaded
    other.revoke_key(alice.key_id, by=root, actor_id="ledger-root", actor_name="Root", reason="left")

    before = snapshot_of_tables(app)
    c = Counter("after revocation")
    c.increment(Decimal("1.00"), "x")
    with pytest.raises(KeyRevokedError):
        app.save(c, signer=alice)
    assert snapshot_of_tables(app) == before
    assert verify_log(DatabaseSource(app)).ok
