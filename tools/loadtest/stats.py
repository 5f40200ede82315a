"""Exact latency figures from every response time of a run (no histogram buckets).

    book = Book()
    book.add("submit expenditure", 12.3, 201)
    book.summary(seconds=60.0)   # {"categories": {...}, "requests": {...}}

A request's category is the first word of its name: read, submit, approve, baseline,
setup. A response counts as an error unless it is 2xx (or, signing in, a redirect); 503 (the database is
unavailable) is also counted on its own, since a PostgreSQL restart expects it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

CATEGORIES = {"read": "reads", "submit": "submissions", "approve": "approvals",
              "baseline": "baseline", "setup": "setup"}


def category(name: str) -> str:
    return CATEGORIES.get(name.split(" ", 1)[0], "other")


def is_ok(status: int, name: str = "") -> bool:
    """2xx; a redirect only where one is the answer (signing in), never for a page read."""
    return 200 <= status < (400 if category(name) == "setup" else 300)


def percentile(sorted_ms: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_ms:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return sorted_ms[rank - 1]


class Book:
    """Every response of a run: its name, time in milliseconds, HTTP status (0: no answer)."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)

    def add(self, name: str, ms: float, status: int) -> None:
        self.times[name].append(ms)
        self.statuses[name][status] += 1

    def summary(self, seconds: float) -> dict[str, Any]:
        by_category: dict[str, list[str]] = defaultdict(list)
        for name in self.times:
            by_category[category(name)].append(name)
        return {
            "categories": {cat: self._figures(names, seconds) for cat, names in sorted(by_category.items())},
            "requests": {name: self._figures([name], seconds) for name in sorted(self.times)},
        }

    def _figures(self, names: list[str], seconds: float) -> dict[str, Any]:
        times = sorted(t for n in names for t in self.times[n])
        statuses: Counter[int] = Counter()
        for n in names:
            statuses.update(self.statuses[n])
        errors = sum(c for n in names for s, c in self.statuses[n].items() if not is_ok(s, n))
        return {
            "requests": len(times),
            "per_second": round(len(times) / seconds, 2) if seconds > 0 else None,
            "p50_ms": _ms(percentile(times, 50)),
            "p95_ms": _ms(percentile(times, 95)),
            "p99_ms": _ms(percentile(times, 99)),
            "mean_ms": _ms(sum(times) / len(times)) if times else None,
            "max_ms": _ms(times[-1]) if times else None,
            "errors": errors,
            "unavailable_503": statuses.get(503, 0),
            "statuses": {str(s): c for s, c in sorted(statuses.items())},
        }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
