"""Running the projection: catch up from the tracked position, batch by batch.

Each batch is read by chain position, folded, and written in one transaction that
(1) takes the writers' lock, (2) checks the projection's tracking row (store.py) still
says where the batch started, (3) inserts the rows and (4) advances the tracking row to
the batch's last notification id, refusing to go back or stand still. A crash before commit writes nothing; a process that lost a race to another
writes nothing and starts again from where the winner stopped. So every position is
counted exactly once, however many processes run it.

Tracking stores notification ids (the library's sequence, which may have gaps on
PostgreSQL); the read models speak in chain positions, found through the ledger's port
(`app.position_of_notification`).

Verify first, then project: a catch-up goes no further than its `gate` says, the integrity
monitor's last position verified clean (`ledger.integrity`: it verifies the positions new
since its last call first, and stops before any fault), so no position that failed ever
enters the read models.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from domain.readmodels.projection import Item
from domain.readmodels.store import LostRaceError, ReadModelError, ReadStore, Writer
from ledger.integrity import describe
from ledger.rows import ChainRow

Progress = Callable[[int, int], None]
BATCH = 1000


class Projection(Protocol):
    """What the runner drives: a tracking name, a fold of positions into rows, a writer."""

    name: str
    at: int  # the notification id its in-memory state stands at

    def reset(self, *, hard: bool = False) -> None: ...

    def process(self, start: int, items: list[Item],
                replay: Callable[[int, int], Iterable[Item]]) -> Any: ...

    def write(self, w: Writer, batch: Any) -> None: ...

    def decode(self, row: ChainRow) -> Any:
        """What the projection reads of a position (None: missing or unreadable)."""


class IntegrityFaultError(ReadModelError):
    """The read models stop before a position that failed verification (or the ledger
    reported another fault): they will not answer past it."""

    code = "ledger-fault"

    def __init__(self, fault: Any, bound: int) -> None:
        super().__init__(f"{describe(fault)}; the read models stop at position {bound}: "
                         "run `pmo-ledger verify` for every fault")
        self.fault = fault


class Projector:
    """Keeps one projection's tables up to date with the log, up to what `gate()` (the
    integrity monitor's `clean_head`) allows; without a gate, to the log's head."""

    def __init__(self, app: Any, projection: Projection, store: ReadStore,
                 batch: int = BATCH, gate: Callable[[], int] | None = None) -> None:
        self.app = app
        self.projection = projection
        self.store = store
        self.batch = batch
        self.gate = gate
        self._lock = threading.Lock()  # one catch-up at a time per process

    @property
    def name(self) -> str:
        return self.projection.name

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """No catch-up of this projection runs in this process meanwhile."""
        with self._lock:
            yield

    def catch_up(self, progress: Progress | None = None, limit: int | None = None,
                 batch: int | None = None) -> int:
        """Process every position not yet processed (at most `limit`, `batch` at a time);
        returns how many."""
        size = batch or self.batch
        with self._lock:
            self.store.ensure_tables()
            done, total = 0, None
            while limit is None or done < limit:
                start_nid = self.store.tracked(self.name)
                start = self.position_of(start_nid)
                head = self.head()
                total = total if total is not None else head - start
                if start >= head:
                    break
                hi = min(head, start + size, start + (limit - done if limit else size))
                reading = None
                if progress is not None:
                    # A large batch reports its reading too (but never "finished").
                    reading = lambda n, d=done, t=total: progress(min(d + n, t - 1), t)  # noqa: E731
                done += self._batch(start_nid, start, hi, reading)
                if progress is not None:
                    progress(min(done, total), max(total, done))
            return done

    def _batch(self, start_nid: int, start: int, hi: int,
               reading: Callable[[int], None] | None = None) -> int:
        """Positions start+1..hi in one transaction (none: rewrite at `start`)."""
        p = self.projection
        if p.at != start_nid:
            self._resync(start_nid, start)  # someone else moved the projection
        last_read: int | None = None
        try:
            items = self._read(start + 1, hi, reading)
            batch = p.process(start, items, self.read)
            last_read = items[-1].row.notification_id if items else start_nid
            with self.store.writing(self.name) as w:
                w.claim(self.name, start_nid)
                p.write(w, batch)
                if items:
                    w.advance(self.name, items[-1].row.notification_id)
            last = items[-1].row.notification_id if items else start_nid
            done = len(items)
        except LostRaceError:
            if last_read is not None and getattr(p, "resync_at_most", 0):
                p.at = last_read  # its caches did fold these positions: resynced from there
            else:
                p.reset()
            return 0
        except BaseException:
            p.reset(hard=True)
            raise
        p.at = last
        return done

    def _resync(self, start_nid: int, start: int) -> None:
        """Our in-memory caches stand at `p.at`, the tracking row at `start_nid`: another
        process (a server's other worker) caught up meanwhile. A projection that allows it
        (`resync_at_most`) has the few positions in between folded into its caches, read
        but not written, as a catch-up of its own would have; otherwise, or when the gap
        is large or behind us, the caches are dropped (every touched project and the key
        history reloaded from the log: the cost that made each page load slow when
        several workers took turns)."""
        p = self.projection
        at_most = getattr(p, "resync_at_most", 0)
        try:
            at = self.position_of(p.at) if p.at and at_most else 0
            if at and at < start and start - at <= at_most:
                p.process(at, list(self.read(at + 1, start)), self.read)
                p.at = start_nid
                return
        except Exception:  # noqa: BLE001 - dropped as before; the batch says what is wrong
            pass
        p.reset()

    def _read(self, lo: int, hi: int, reading: Callable[[int], None] | None) -> list[Item]:
        items: list[Item] = []
        for item in self.read(lo, hi):
            items.append(item)
            if reading is not None and len(items) % self.batch == 0:
                reading(len(items))
        return items

    def refresh(self) -> None:
        """Write the projection again at its tracked position (compliance: a new day)."""
        with self._lock:
            self.store.ensure_tables()
            start_nid = self.store.tracked(self.name)
            start = self.position_of(start_nid)
            self._batch(start_nid, start, start)

    def head(self) -> int:
        """The last chain position a catch-up may reach: the gate's (which verifies the new
        positions first), else the log's own head (the ledger's head query: on SQLite a
        MAX over the ledger_chain view would scan every row)."""
        if self.gate is not None:
            return int(self.gate())
        return int(self.app.size())

    def position_of(self, notification_id: int) -> int:
        if notification_id == 0:
            return 0
        position = self.app.position_of_notification(notification_id)
        if position is None:
            raise ReadModelError(
                f"the read models are at notification {notification_id}, which no chain "
                "position holds; rebuild them (pmo-ledger projections rebuild)")
        return position

    # Reading the log ----------------------------------------------------------------------

    def read(self, lo: int, hi: int) -> Iterator[Item]:
        """Positions lo..hi, as the projection decodes them, in chunks of at most one batch."""
        decode = self.projection.decode
        while lo <= hi:
            top = min(hi, lo + self.batch - 1)
            for row in self.app.read_entries(lo, top):
                yield Item(row, decode(row))
            lo = top + 1


def follow(app: Any, postgres: bool, stop: threading.Event, step: Callable[[], int],
           poll: float = 1.0) -> None:
    """Call `step` (catch up; it returns the notification id reached) whenever the log may
    have grown, until `stop` is set: on PostgreSQL when the library's LISTEN/NOTIFY
    subscription reports a new event, on SQLite (no notifications) every `poll` seconds."""
    if not postgres:
        step()
        while not stop.wait(poll):
            step()
        return
    # Subscribed from before the first catch-up, so nothing recorded meanwhile is missed.
    subscription = app.subscribe(gt=app.last_notification_id())
    with subscription:
        threading.Thread(target=lambda: (stop.wait(), subscription.stop()), daemon=True).start()
        reached = step()
        for notification in subscription:
            if notification.id > reached:
                reached = step()
