"""Running one piece of a rebuild in a child process, next to the parent's own piece.

A rebuild is two independent projections (each with its own tracking row): the ledger
tables and the compliance findings. Both are mostly Python, so threads would take turns
on the GIL; a forked child runs on the other core. The child is forked (not spawned): it
starts in milliseconds with every module already imported, and it opens its own database
connections -- it never touches the parent's. Where fork is unavailable, or there is only
one CPU to run on, the work runs in this process, after the parent's piece.

    child = start(lambda say: 42)   # forked now; `say(done, total)` reports progress
    ...                              # the parent's own work meanwhile
    child.result(progress)           # 42 (its progress relayed meanwhile), or its failure

The work may also call `say.ready()` once some first step is done (a rebuild's drop):
`child.ready()` in the parent waits for that (or for the work's end, or its failure).

Work that pickles (a module-level function and its arguments) goes to a helper process
that is forked once and kept: later work is sent to it rather than forked again. A fork
shares every page of the parent's memory copy-on-write, so each fork made the parent
fault on (and copy) every page it wrote afterwards: about 24,000 faults, 0.08 s, in a
process that had rebuilt before, its freed memory reused -- a fifth of a rebuild's
critical path. The kept helper's pages and the parent's part company once, after its
first work. Other work (a closure) is forked for itself, as before.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import threading
import traceback
from collections.abc import Callable
from typing import Any

from domain.readmodels.store import ReadModelError
from ledger.keys import usable_cpus as _cpus  # a module attribute: tests set it

Progress = Callable[[int, int], None]
Work = Callable[[Progress | None], Any]


class Child:
    """Work started in a forked process, or deferred to `result` when fork is unavailable."""

    def __init__(self, work: Work) -> None:
        self._work: Work | None = work
        self._process: Any = None
        self._early: list[tuple[str, Any]] = []  # what arrived while `ready` waited
        self._outcome: Any = None  # the work's result where it ran here
        self._ready = False
        self._helper: _Helper | None = None
        if not available():
            return
        self._helper = _Helper.take(work)
        if self._helper is not None:
            self._process, self._reader = self._helper.process, self._helper.conn
            return
        context = multiprocessing.get_context("fork")
        self._reader, writer = context.Pipe(duplex=False)
        self._process = context.Process(target=_run, args=(work, writer), daemon=True)
        self._process.start()
        writer.close()  # so a child that dies without a word reads as end of file here

    def ready(self) -> None:
        """Wait until the work has called `say.ready()` or ended. Its failure is raised by
        `result` -- or here, where it could not be forked and is run to its end now."""
        if self._ready:
            return
        self._ready = True
        if self._process is None:
            work, self._work = self._work, None
            if work is not None:
                self._outcome = work(_Say(self._early.append))  # its progress kept for `result`
            return
        while not self._early or self._early[-1][0] == "progress":
            try:
                message = self._reader.recv()
            except EOFError:
                message = ("error", "the child process ended without a result")
            if message[0] == "ready":
                return
            self._early.append(message)

    def result(self, progress: Progress | None = None) -> Any:
        """The work's return value (waiting for the child, whose progress is passed on to
        `progress`), or its failure as an error."""
        if self._process is None:
            work, self._work = self._work, None

            def relay(message: tuple[str, Any]) -> None:
                if message[0] == "progress" and progress is not None:
                    progress(*message[1])

            for message in self._early:
                relay(message)
            return work(_Say(relay)) if work is not None else self._outcome
        finished = False
        try:
            status, value = self._next()
            while status == "progress":
                if progress is not None:
                    progress(*value)
                status, value = self._next()
            finished = True
        except EOFError:
            status, value = "error", "the child process ended without a result"
        finally:
            if self._helper is not None:
                # Kept only if it said its last word (else the pipe may still hold some).
                self._helper.release(keep=finished)
            else:
                self._reader.close()
                self._process.join()
        if status == "error":
            raise ReadModelError(f"rebuilding in a child process failed: {value}")
        return value

    def _next(self) -> tuple[str, Any]:
        return self._early.pop(0) if self._early else self._reader.recv()


class _Say:
    """The work's `say`: `say(done, total)` reports progress, `say.ready()` its first
    step; each a message to `send` (the pipe to the parent, or a list here)."""

    def __init__(self, send: Callable[[tuple[str, Any]], Any]) -> None:
        self._send = send

    def __call__(self, done: int, total: int) -> None:
        self._send(("progress", (done, total)))

    def ready(self) -> None:
        self._send(("ready", None))


def start(work: Work) -> Child:
    return Child(work)


def available() -> bool:
    """Whether work can be forked, and run on a second CPU (nothing to gain on one)."""
    return "fork" in multiprocessing.get_all_start_methods() and _cpus() >= 2


_after_reply: dict[str, Any] = {}  # in a child: what is freed only once its reply is sent
_in_child = False


def keep_until_replied(slot: str, *objects: Any) -> None:
    """In a child, keep `objects` alive until its reply has been sent, in place of what
    was kept in `slot` before (so a catch-up of many batches keeps only its last):
    freeing what a rebuild decoded takes some 25 ms that the parent, waiting for the
    reply, need not wait for (a one-off child never frees them: it ends). They are set
    aside from the cyclic collector meanwhile (`gc.freeze`), which would otherwise walk
    them all once more before the reply. Elsewhere, nothing."""
    if _in_child:
        _after_reply[slot] = objects
        gc.freeze()


def _run(work: Work, writer: Any, *, close: bool = True) -> None:
    global _in_child
    _in_child = True
    try:
        outcome = ("ok", work(_Say(writer.send)))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        outcome = ("error", traceback.format_exc(limit=8))
    writer.send(outcome)
    if close:
        writer.close()


class _Helper:
    """The kept helper: a process forked once, which runs the work sent to it one piece
    at a time; its progress and outcome come back on the pipe the work went down. One per
    process (a piece of work that finds it busy is forked for itself); a helper that died,
    or was left with unread messages, is replaced by the next piece of work. It runs the
    code as it stood when it was forked: tests that patch modules end it (`end_helper`)."""

    _kept: _Helper | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self.conn, theirs = context.Pipe(duplex=True)
        self.process = context.Process(target=_serve, args=(theirs,), daemon=True)
        self.process.start()
        theirs.close()
        self.busy = False

    @classmethod
    def take(cls, work: Work) -> _Helper | None:
        """The kept helper, now running `work`; None when the work does not pickle or the
        helper is busy."""
        try:
            data = pickle.dumps(work)
        except Exception:  # noqa: BLE001 - a closure, say: forked for itself
            return None
        with cls._lock:
            helper = cls._kept
            if helper is not None and helper.busy:
                return None
            if helper is None or not helper.process.is_alive():
                helper = cls._kept = cls()
            helper.busy = True
        try:
            helper.conn.send_bytes(data)
        except OSError:  # it died since: this piece goes to a new one
            helper.release(keep=False)
            return cls.take(work)
        return helper

    def release(self, *, keep: bool = True) -> None:
        """Its piece of work is over. Unless it is still alive and its pipe empty
        (`keep`), it is ended and dropped: the next piece forks a new one."""
        keep = keep and self.process.is_alive()
        with self._lock:
            self.busy = False
            if keep:
                return
            if _Helper._kept is self:
                _Helper._kept = None
        self.end()

    def end(self) -> None:
        # Killed, not asked: one that is still working would finish first (its database
        # transaction is rolled back either way).
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()

    @classmethod
    def forget(cls) -> None:
        """In a forked process: the parent's helper is not ours to use."""
        cls._kept, cls._lock = None, threading.Lock()


def end_helper() -> None:
    """End the kept helper, if any, now (the next piece of work forks a new one)."""
    with _Helper._lock:
        helper, _Helper._kept = _Helper._kept, None
    if helper is not None:
        helper.end()


def _serve(conn: Any) -> None:
    """The helper's life: run each piece of work sent, until the parent's end closes."""
    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:
            return
        _run(lambda say: pickle.loads(data)(say), conn, close=False)  # noqa: B023 - run at once
        gc.unfreeze()
        _after_reply.clear()


os.register_at_fork(after_in_child=_Helper.forget)
