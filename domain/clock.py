"""The domain's clock: when an act is recorded.

Every domain event takes its recorded time (its `timestamp`, UTC) from `now()`; so do the
services when they ask which policy is in force. In the running system that is the server's
UTC clock and nothing ever sets it.

`simulated(clock_fn)` replaces it for the code running inside the `with` block (in this
thread or task only: it is a context variable). It exists for one caller, the demo seeder
(`tools.demo.seed`), which records eighteen months of history in a few seconds and so must say
*when* each act happened. The web app, the API and the services never use it.

    with simulated(lambda: moment):
        app.approve_expenditure(...)   # recorded at `moment`
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_override: ContextVar[Callable[[], datetime] | None] = ContextVar("pmo_clock", default=None)


def now() -> datetime:
    """The current instant, timezone-aware UTC (simulated inside `simulated`)."""
    clock_fn = _override.get()
    if clock_fn is None:
        return datetime.now(UTC)
    moment = clock_fn()
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"a simulated clock must give timezone-aware datetimes, not {moment!r}")
    return moment.astimezone(UTC)


def is_simulated() -> bool:
    return _override.get() is not None


@contextmanager
def simulated(clock_fn: Callable[[], datetime]) -> Iterator[None]:
    """Record acts at the instants `clock_fn()` gives, for the duration of the block.

    For the demo seeder only: recorded times are evidence, and a real act must carry the
    real time it was recorded."""
    token = _override.set(clock_fn)
    try:
        yield
    finally:
        _override.reset(token)


__all__ = ["is_simulated", "now", "simulated"]
