"""`pmo-ledger loadtest` end to end, briefly (8 clients, 8 s, 2 workers, SQLite and PostgreSQL),
on a ledger given with --db: on SQLite a copy of the session's seeded demo portfolio, on
PostgreSQL a fresh schema seeded with the test cast (seeding the demo there is what the
command does without --db; its long version is `pmo-ledger loadtest`). Served by gunicorn,
the locust mix of reads, submissions and approvals, then the audit. Asserts correctness
only -- zero errors, every acknowledged write in the log, `verify` clean, read models equal
to a rebuild; latency belongs to the benchmark figures (docs/performance.md), not to a test
on a shared machine."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from ledger.keys import PASSPHRASE_ENV
from tests.conftest import (
    DEMO_PASSWORD,
    DEMO_PW,
    PG_ADMIN_DSN,
    copy_demo,
    pg_admin,
    require_postgres,
)
from tests.serving import PASSWORD, PW, cli, seed
from tools.loadtest.stats import Book, is_ok, percentile

pytestmark = pytest.mark.slow  # started first: see tests/conftest.py


def test_percentiles_are_exact_nearest_rank() -> None:
    ms = sorted(float(n) for n in range(1, 101))
    assert (percentile(ms, 50), percentile(ms, 95), percentile(ms, 99)) == (50.0, 95.0, 99.0)
    assert percentile([], 50) is None and percentile([7.0], 99) == 7.0
    book = Book()
    for n, status in ((10, 201), (30, 201), (20, 503), (5, 302)):
        book.add("submit expenditure", n, status)
    book.add("setup sign-in", 3, 302)
    figures = book.summary(seconds=2)["categories"]
    assert figures["submissions"]["requests"] == 4 and figures["submissions"]["per_second"] == 2
    assert figures["submissions"]["errors"] == 2, "a 503 and a redirect where a 2xx was due"
    assert figures["submissions"]["unavailable_503"] == 1
    assert figures["setup"]["errors"] == 0 and is_ok(302, "setup sign-in") and not is_ok(302, "read /")


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest, tmp_path: Path,
           demo_template: SimpleNamespace) -> Iterator[SimpleNamespace]:
    """A seeded ledger for the load: (backend, url, password, passphrase)."""
    if request.param == "sqlite":
        yield SimpleNamespace(backend="sqlite", url=copy_demo(demo_template, tmp_path),
                              password=DEMO_PASSWORD, passphrase=DEMO_PW)
        return
    require_postgres()
    schema = f"t_{uuid.uuid4().hex}"
    pg_admin(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_ADMIN_DSN}?schema={schema}"
    try:
        seed(url)
        yield SimpleNamespace(backend="postgresql", url=url, password=PASSWORD, passphrase=PW)
    finally:
        pg_admin(f"SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")


def test_loadtest_command_runs_clean(tmp_path: Path, seeded: SimpleNamespace) -> None:
    backend = seeded.backend
    done = cli("loadtest", "--backend", backend, "--db", seeded.url, "--password", seeded.password,
               "--users", "8", "--seconds", "8", "--workers", "2", "--folder", str(tmp_path), "--json",
               env={PASSPHRASE_ENV: seeded.passphrase}, timeout=300)
    assert done.stdout, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["errors"] == dict.fromkeys(("reads", "submissions", "approvals", "baseline", "setup"), 0), \
        report["failure_samples"]
    cats = report["categories"]
    for name in ("reads", "submissions", "approvals", "baseline"):
        assert cats[name]["requests"] > 0 and cats[name]["p95_ms"] is not None, name
    assert report["backend"] == backend
    assert 50 < report["mix"]["reads_percent"] < 90, report["mix"]

    log, audit = report["log"], report["audit"]
    assert log["acknowledged_writes"] == cats["submissions"]["requests"] + cats["approvals"]["requests"]
    assert log["unacknowledged_events"] == 0, "one event per acknowledged write, nothing else"
    assert audit["verify"]["ok"] and audit["verify"]["events"] == log["size_after"]
    assert audit["missing_count"] == 0 and audit["unchained"] == []
    assert audit["read_models"]["equal"], audit["read_models"]
    assert audit["read_models"]["compared"] == ["report portfolio", "report budget", "report variance",
                                                "compliance"]
    assert report["server"] == {"exit": 0, "log": report["server"]["log"], "tracebacks": 0}
    assert report["ok"] is True and done.returncode == 0
