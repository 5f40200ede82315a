"""An autouse fixture for every test, features included (tests/conftest.py and
features/conftest.py import it): parallel rebuilds start each test from a helper process
of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.readmodels import parallel


@pytest.fixture(autouse=True)
def end_kept_helper() -> Iterator[None]:
    """End the kept helper after each test (domain/readmodels/parallel.py): it runs the
    code as it stood when it was forked, before a later test's patches."""
    yield
    parallel.end_helper()
