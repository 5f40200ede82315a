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
"""

from __future__ import annotations

import multiprocessing
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
        if not available():
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
        try:
            status, value = self._next()
            while status == "progress":
                if progress is not None:
                    progress(*value)
                status, value = self._next()
        except EOFError:
            status, value = "error", "the child process ended without a result"
        finally:
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


def _run(work: Work, writer: Any) -> None:
    try:
        outcome = ("ok", work(_Say(writer.send)))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        outcome = ("error", traceback.format_exc(limit=8))
    writer.send(outcome)
    writer.close()
