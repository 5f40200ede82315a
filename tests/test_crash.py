"""Crash: a writer killed with SIGKILL mid-stream, again and again, on the same database.

Every event the writer acknowledged (printed after its save returned) is in the log,
the log has no holes or unchained rows, and `verify` is clean. On both backends.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from ledger.keys import PASSPHRASE_ENV
from ledger.verify import DatabaseSource, verify_log
from tests.support import PASSPHRASE, count_events, identities

REPO = Path(__file__).resolve().parent.parent
ROUNDS = 3


def _run_and_kill(url: str, kid: str, after_lines: int) -> list[tuple[str, int]]:
    env = {**os.environ, PASSPHRASE_ENV: PASSPHRASE, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_writer", url, kid],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=env,
    )
    acked: list[tuple[str, int]] = []
    try:
        assert proc.stdout is not None
        while len(acked) < after_lines:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"writer died early: {proc.wait()} {proc.stderr.read().decode()}")
            oid, version = line.decode().split()
            acked.append((oid, int(version)))
        proc.send_signal(signal.SIGKILL)  # mid-stream: it is still writing
        # Lines it managed to flush before dying were acknowledged too.
        rest = proc.stdout.read().decode()
        for line in rest.splitlines(keepends=True):
            if line.endswith("\n"):
                oid, version = line.split()
                acked.append((oid, int(version)))
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return acked


def test_writer_killed_repeatedly_loses_no_acknowledged_event(ledger, alice, open_app):
    app, _ = ledger
    rng = random.Random(2)
    acked: list[tuple[str, int]] = []
    for _ in range(ROUNDS):
        acked += _run_and_kill(app.backend.url, alice.key_id, rng.randint(20, 60))
        # After each crash the ledger opens and verifies clean, and the next writer goes on.
        fresh = open_app()
        report = verify_log(DatabaseSource(fresh))
        assert report.ok, report.faults

    logged = identities(app)
    assert set(acked) <= {(oid, v) for _, oid, v in logged}
    assert [p for p, _, _ in logged] == list(range(1, len(logged) + 1))
    assert count_events(app) == len(logged)  # no half-written record outside the chain
    # Each aggregate's versions run 1..n with no hole.
    by_agg: dict[str, list[int]] = {}
    for _, oid, v in logged:
        by_agg.setdefault(oid, []).append(v)
    assert all(vs == list(range(1, len(vs) + 1)) for vs in by_agg.values())
    report = verify_log(DatabaseSource(app))
    assert report.ok, report.faults
    assert report.events == len(logged) >= 2 + len(acked)
