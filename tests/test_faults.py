"""Faults under load: `pmo-ledger serve` with the load test's locust mix (tools/loadtest) running
against it, while we

(a) kill -9 one gunicorn worker, several times: the master replaces it and the server
    keeps answering;
(b) kill -9 the whole server (master and workers), several times, and start it again with
    the same command: it comes back with no manual repair;
(c) cut PostgreSQL away (a loopback hop we cut and restore: what a restart looks like to
    the app, without restarting the PostgreSQL other tests share): requests get a clean
    503, never a 500 or a traceback, and the app recovers by itself;
(d) kill -9 the master alone, twice: its workers finish what they were answering and go
    within seconds, letting go of the port at once, so the same command, started again
    straight away, binds it and serves.

After each: every write that got a 2xx is in the log at the position its answer gave, no
write answered with an error is in the log, none is in it twice (the load sends a write
again, with its Idempotency-Key, while it gets no answer or a 503), the chain verifies,
nothing is half-written (no event outside the chain), the log grew by no more than the
acknowledged writes plus the writes never answered, and the read models equal a rebuild.
The ledger is a small one (the test cast, two projects) so a round is quick; the load
driver's own test uses the demo portfolio."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ledger.application import ledger_size
from ledger.keys import PASSPHRASE_ENV
from tests.conftest import PG_HOST, PG_PORT, pg_admin, require_postgres
from tests.serving import PASSWORD, PW, Served, TcpProxy, seed, wait_for
from tools.loadtest.audit import audit
from tools.loadtest.driver import Options, finish_runner, prepare, runner_process
from tools.loadtest.server import Server, wait_gone

USERS = 8
WORKERS = 3
KILLS = 2  # each kind of kill twice: the long version is `pmo-ledger loadtest`


def options(seconds: float) -> Options:
    return Options(users=USERS, seconds=seconds, workers=WORKERS, seed_demo=False,
                   password=PASSWORD, env={PASSPHRASE_ENV: PW})


def server_for(url: str, folder: Path) -> Served:
    return Served(url, folder, workers=WORKERS)


class Load:
    """The locust mix running against `server` in its own process for `seconds`."""

    def __init__(self, server: Server, folder: Path, seconds: float) -> None:
        self.seconds = seconds
        self.size_before = ledger_size(server.url)
        plan = prepare(server.base, options(seconds))
        self.proc, self.out = runner_process(plan, folder)

    def finish(self) -> dict[str, Any]:
        return finish_runner(self.proc, self.out, self.seconds)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def failed_statuses(result: dict[str, Any]) -> set[int]:
    return {status for _, status in result["failure_times"]}


def unanswered_writes(result: dict[str, Any]) -> int:
    """Writes that never got an answer, even sent again: written, maybe."""
    return len(result["unanswered"])


def acknowledged_after(result: dict[str, Any], instant: float) -> int:
    return sum(1 for w in result["acknowledged"] if w["at"] > instant)


def check_ledger(url: str, load: Load, result: dict[str, Any]) -> dict[str, Any]:
    """Nothing acknowledged lost, nothing refused recorded, nothing recorded twice, nothing
    half-written, verify clean, read models = rebuild."""
    report = audit(url, result["acknowledged"], answered_error=result["answered_error"],
                   unanswered=result["unanswered"])
    assert report["missing_count"] == 0, report["missing"]
    assert report["refused_recorded"] == [], "a write answered with an error was recorded"
    assert report["written_twice"] == [], "a write sent again was recorded twice"
    assert report["unchained"] == [], "an event outside the chain: half-written"
    assert report["verify"]["ok"], report["verify"]
    assert report["read_models"]["equal"], report["read_models"]
    grown = report["size"] - load.size_before
    lost_answers = unanswered_writes(result)  # written, maybe, but no answer ever came
    assert len(result["acknowledged"]) <= grown <= len(result["acknowledged"]) + lost_answers
    return report


@pytest.fixture
def load_holder() -> Iterator[list[Load]]:
    """Loads started by a test, killed if the test fails half-way."""
    loads: list[Load] = []
    yield loads
    for load in loads:
        load.stop()


# (a) a worker killed ---------------------------------------------------------------------------


def test_killed_workers_lose_no_acknowledged_write(backend_url: str, tmp_path: Path,
                                                   load_holder: list[Load]) -> None:
    seed(backend_url)
    server = server_for(backend_url, tmp_path).start()
    master = server.proc.pid
    rng = random.Random(6)
    try:
        load = Load(server, tmp_path, seconds=12)
        load_holder.append(load)
        victims = []
        for _ in range(KILLS):
            time.sleep(3)
            victim = rng.choice(server.workers())
            server.kill_worker(victim)
            victims.append(victim)
            wait_for(lambda v=victim: len(server.workers()) == WORKERS and v not in server.workers(),
                     30, "the master to replace the killed worker")
        last_kill = time.time()
        result = load.finish()
        assert server.proc.poll() is None and server.proc.pid == master, "the same master throughout"
        assert not set(victims) & set(server.workers())
    finally:
        assert server.stop() == 0, server.log()[-3000:]

    # Only the killed workers' connections failed (no answer), nothing else, and the writes
    # went on after the last kill.
    assert failed_statuses(result) <= {0}, result["failure_samples"][:10]
    assert result["failures"] <= KILLS * USERS, result["failure_samples"][:10]
    assert acknowledged_after(result, last_kill) > 0
    assert "Traceback" not in server.log()
    check_ledger(backend_url, load, result)


# (b) the whole server killed ----------------------------------------------------------------------


def test_killed_server_comes_back_with_every_acknowledged_write(backend_url: str, tmp_path: Path,
                                                                load_holder: list[Load]) -> None:
    seed(backend_url)
    server = server_for(backend_url, tmp_path).start()
    try:
        load = Load(server, tmp_path, seconds=22)
        load_holder.append(load)
        for _ in range(KILLS):
            time.sleep(3)
            server.kill_all()  # mid-load: the master first, then every worker
            assert not server.answers()
            server.start()  # the same command, same port; no repair in between
        back = time.time()
        result = load.finish()
    finally:
        assert server.stop() == 0, server.log()[-3000:]

    assert server.starts == 1 + KILLS
    # While it was down, clients got no answer; never an error answer.
    assert failed_statuses(result) <= {0}, result["failure_samples"][:10]
    assert acknowledged_after(result, back) > 0, "writes resumed after the last restart"
    assert "Traceback" not in server.log()
    check_ledger(backend_url, load, result)


# (c) PostgreSQL going away under load ------------------------------------------------------------


@pytest.fixture
def cuttable_postgres() -> Iterator[tuple[TcpProxy, str, str]]:
    """A fresh schema reached through a TcpProxy: (proxy, URL through it, direct URL)."""
    require_postgres()
    schema = f"t_faults_{uuid.uuid4().hex[:12]}"
    pg_admin(f'CREATE SCHEMA "{schema}"')
    direct = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test?schema={schema}"
    try:
        with TcpProxy(PG_PORT) as proxy:
            yield proxy, (f"postgresql://postgres@{PG_HOST}:{proxy.port}/test?schema={schema}"
                          "&connect_timeout=1"), direct
    finally:
        pg_admin(f"SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")


OUTAGE_SECONDS = 14  # longer than the library's retries (10 x connect_timeout=1 s)


def test_postgres_outage_under_load_is_503_then_recovers(
        cuttable_postgres: tuple[TcpProxy, str, str], tmp_path: Path, load_holder: list[Load]) -> None:
    proxy, url, direct = cuttable_postgres
    seed(url)
    server = server_for(url, tmp_path).start()
    try:
        load = Load(server, tmp_path, seconds=4 + OUTAGE_SECONDS + 14)
        load_holder.append(load)
        time.sleep(4)
        cut = time.time()
        proxy.cut()  # every connection dropped, new ones refused: a restart, as the app sees it
        time.sleep(OUTAGE_SECONDS)
        proxy.restore()
        restored = time.time()
        result = load.finish()
        assert server.proc.poll() is None, "the server was never restarted"
    finally:
        assert server.stop() == 0, server.log()[-3000:]

    failures = result["failure_samples"]
    assert failures, "the outage was seen by the clients"
    # 503, or one of two documented 409s: idempotency-key-in-use, for a write sent again
    # while its first attempt still waits on the database (the library retries a PostgreSQL
    # insert whose connection failed), and conflict, when the writes held up by the outage
    # all land at once on the same two projects and one runs out of attempts. The client
    # answers both by asking again; check_ledger below proves neither was recorded.
    assert failed_statuses(result) <= {503, 409} and 503 in failed_statuses(result), (
        [f for f in failures if f["status"] not in (503, 409)][:10])
    for f in failures:
        assert "Traceback" not in f["detail"], f
        if f["status"] == 409:
            assert '"idempotency-key-in-use"' in f["detail"] or '"code":"conflict"' in f["detail"], f
        elif "/api/" in f["name"] or f["name"].startswith(("submit", "approve")):
            assert '"backend-unavailable"' in f["detail"], f
        else:
            assert f["detail"].startswith("page backend-unavailable:"), f
    # No failure before the cut. The runner times failures from its own start, which comes
    # after `Load` returns by however long locust takes to start (over half a second on a
    # busy machine: a regression once failed here with no failure before the cut).
    assert min(result["started_at"] + t for t, _ in result["failure_times"]) >= cut - 0.5
    # Recovered by itself: writes acknowledged after the restore, and none of the last
    # requests failed.
    assert acknowledged_after(result, restored) > 0
    assert max(t for t, _ in result["failure_times"]) < result["seconds"] - 5
    log = server.log()
    assert "database unavailable on" in log and "Traceback" not in log, log[-3000:]
    check_ledger(direct, load, result)


# (d) the master killed alone ---------------------------------------------------------------------

MASTER_KILLS = 2
ORPHANS_GONE_SECONDS = 5.0  # the killed master's workers are gone within this


def test_killed_master_takes_its_workers_along_and_the_same_command_starts_at_once(
        backend_url: str, tmp_path: Path, load_holder: list[Load]) -> None:
    seed(backend_url)
    server = server_for(backend_url, tmp_path).start()
    gone_after, restarted_in = [], []
    try:
        load = Load(server, tmp_path, seconds=14)
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
    assert failed_statuses(result) <= {0}, result["failure_samples"][:10]
    assert acknowledged_after(result, back) > 0, "writes resumed after the last restart"
    assert "Traceback" not in log
    check_ledger(backend_url, load, result)
