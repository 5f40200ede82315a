"""Faults under load (see tests/faults.py): (a) gunicorn workers killed, (d) the master killed alone."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import faults  # the load, the server and the audit every fault test uses
from tests.serving import seed, wait_for
from tools.loadtest.server import wait_gone

pytestmark = pytest.mark.slow  # started first: see tests/conftest.py

# (a) a worker killed ---------------------------------------------------------------------------


def test_killed_workers_lose_no_acknowledged_write(backend_url: str, tmp_path: Path,
                                                   load_holder: list[faults.Load]) -> None:
    seed(backend_url)
    server = faults.server_for(backend_url, tmp_path).start()
    master = server.proc.pid
    rng = random.Random(6)
    try:
        load = faults.Load(server, tmp_path, seconds=12)
        load_holder.append(load)
        victims = []
        for _ in range(faults.KILLS):
            time.sleep(3)
            victim = rng.choice(server.workers())
            server.kill_worker(victim)
            victims.append(victim)
            wait_for(lambda v=victim: len(server.workers()) == faults.WORKERS and v not in server.workers(),
                     30, "the master to replace the killed worker")
        last_kill = time.time()
        result = load.finish()
        assert server.proc.poll() is None and server.proc.pid == master, "the same master throughout"
        assert not set(victims) & set(server.workers())
    finally:
        assert server.stop() == 0, server.log()[-3000:]

    # Only the killed workers' connections failed (no answer), nothing else, and the writes
    # went on after the last kill.
    assert faults.failed_statuses(result) <= {0}, result["failure_samples"][:10]
    assert result["failures"] <= faults.KILLS * faults.USERS, result["failure_samples"][:10]
    assert faults.acknowledged_after(result, last_kill) > 0
    assert "Traceback" not in server.log()
    faults.check_ledger(backend_url, load, result)



# (d) the master killed alone ---------------------------------------------------------------------

MASTER_KILLS = 2
ORPHANS_GONE_SECONDS = 5.0  # the killed master's workers are gone within this


def test_killed_master_takes_its_workers_along_and_the_same_command_starts_at_once(
        backend_url: str, tmp_path: Path, load_holder: list[faults.Load]) -> None:
    seed(backend_url)
    server = faults.server_for(backend_url, tmp_path).start()
    gone_after, restarted_in = [], []
    try:
        load = faults.Load(server, tmp_path, seconds=14)
        load_holder.append(load)
        for _ in range(MASTER_KILLS):
            time.sleep(3)
            orphans = server.kill_master()  # mid-load; its workers are left to notice
            killed = time.monotonic()
            assert orphans
            with ThreadPoolExecutor(1) as watcher:  # timed from the kill, while restarting
                gone = watcher.submit(wait_gone, orphans, 30)
                server.start()  # straight away: the same command, the same port
                restarted_in.append(time.monotonic() - killed)
                gone_after.append(gone.result())
        back = time.time()
        result = load.finish()
    finally:
        assert server.stop() == 0, server.log()[-3000:]

    print(f"\norphaned workers gone after {[round(s, 2) for s in gone_after]} s; the same command "
          f"serving again after {[round(s, 2) for s in restarted_in]} s")
    assert server.starts == 1 + MASTER_KILLS
    log = server.log()
    assert "Connection in use" not in log, "the orphaned workers held the port"
    assert max(gone_after) < ORPHANS_GONE_SECONDS, gone_after
    # Requests the orphans had taken were answered; the rest got no answer (refused while
    # nothing listened), never an error answer.
    assert faults.failed_statuses(result) <= {0}, result["failure_samples"][:10]
    assert faults.acknowledged_after(result, back) > 0, "writes resumed after the last restart"
    assert "Traceback" not in log
    faults.check_ledger(backend_url, load, result)
