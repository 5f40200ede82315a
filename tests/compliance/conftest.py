"""The domain tests' ledger with one person per role (copied per test), for the test that
streams a real PMOApplication log through the compliance check."""

from tests.domain.conftest import template_db, world  # noqa: F401 - shared fixtures
