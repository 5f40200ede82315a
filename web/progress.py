"""Progress lines on stderr for long CLI work: redrawn on a terminal, sparse in a log."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, *, stream=None, quiet: bool = False) -> None:  # noqa: ANN001
        self.label = label
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self.last_pct = -1
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if self.quiet or total <= 0:
            return
        pct = done * 100 // total
        if self.tty:
            end = "\n" if done >= total else ""
            self.stream.write(f"\r{self.label}: {done}/{total} ({pct}%){end}")
        elif pct // 10 != self.last_pct // 10 or done >= total:
            self.stream.write(f"{self.label}: {done}/{total} ({pct}%)\n")
        self.last_pct = pct
        self.stream.flush()
