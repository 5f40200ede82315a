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
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Callable
from typing import Any

from domain.readmodels.store import ReadModelError

Progress = Callable[[int, int], None]
Work = Callable[[Progress | None], Any]


class Child:
    """Work started in a forked process, or deferred to `result` when fork is unavailable."""

    def __init__(self, work: Work) -> None:
        self._work: Work | None = work
        self._process: Any = None
        if not available():
            return
        context = multiprocessing.get_context("fork")
        self._reader, writer = context.Pipe(duplex=False)
        self._process = context.Process(target=_run, args=(work, writer), daemon=True)
        self._process.start()
        writer.close()  # so a child that dies without a word reads as end of file here

    def result(self, progress: Progress | None = None) -> Any:
        """The work's return value (waiting for the child, whose progress is passed on to
        `progress`), or its failure as an error."""
        if self._process is None:
            work, self._work = self._work, None
            return work(progress) if work is not None else None
        try:
            status, value = self._reader.recv()
            while status == "progress":
                if progress is not None:
                    progress(*value)
                status, value = self._reader.recv()
        except EOFError:
            status, value = "error", "the child process ended without a result"
        finally:
            self._reader.close()
            self._process.join()
        if status == "error":
            raise ReadModelError(f"rebuilding in a child process failed: {value}")
        return value


def start(work: Work) -> Child:
    return Child(work)


def available() -> bool:
    """Whether work can be forked, and run on a second CPU (nothing to gain on one)."""
    return "fork" in multiprocessing.get_all_start_methods() and _cpus() >= 2


def _cpus() -> int:
    """The CPUs this process may run on (its affinity, where the system tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every system
        return os.cpu_count() or 1


def _run(work: Work, writer: Any) -> None:
    try:
        outcome = ("ok", work(lambda done, total: writer.send(("progress", (done, total)))))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        outcome = ("error", traceback.format_exc(limit=8))
    writer.send(outcome)
    writer.close()
