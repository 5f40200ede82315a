"""`pmo-ledger serve --workers 2` as a real server (gunicorn) on loopback, on SQLite and on
PostgreSQL: several threads write at once through both workers, a worker killed with
SIGKILL is replaced while the server keeps answering, SIGTERM stops it cleanly, and the log
verifies afterwards. With PostgreSQL going away (a loopback hop we cut), requests get a
clean 503 with Retry-After, nothing is written, and the server recovers by itself."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.application import ledger_size
from tests.conftest import PG_HOST, PG_PORT, pg_admin, require_postgres
from tests.serving import CODES, Served, TcpProxy, cli, seed, wait_for

pytestmark = pytest.mark.slow  # started first: see tests/conftest.py

THREADS = 8
WRITES_PER_THREAD = 4


def verify(url: str) -> dict:
    done = cli("verify", "--db", url, "--json", "--workers", "1")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout)


def submit(server: Served, headers: dict[str, str], n: int) -> int:
    code = CODES[n % len(CODES)]  # two projects, so writers also contend on one aggregate
    body = {"line": "HW-01", "amount": "10.00", "vendor": "Acme", "invoice_number": f"INV-{n}",
            "invoice_date": "2026-03-01", "description": f"parallel write {n}"}
    return server.request("POST", f"/api/v1/projects/{code}/expenditures", json_body=body,
                          headers=headers).status


def served_by(server: Served, method: str, path_start: str) -> set[str]:
    """Worker pids that answered matching requests, from the access log."""
    pattern = re.compile(rf'"{method} {re.escape(path_start)}\S* HTTP/1\.\d" \d+ \S+ \d+ms <(\d+)>')
    return set(pattern.findall(server.log()))


def test_two_workers_write_at_once_survive_a_killed_worker_and_stop_cleanly(
        backend_url: str, tmp_path: Path) -> None:
    seed(backend_url)
    before = ledger_size(backend_url)
    server = Served.launch(backend_url, tmp_path)
    with server:
        pm = server.token("pm")
        with ThreadPoolExecutor(THREADS) as pool:
            statuses = list(pool.map(lambda n: submit(server, pm, n), range(THREADS * WRITES_PER_THREAD)))
        assert statuses == [201] * len(statuses), statuses
        assert len(served_by(server, "POST", "/api/v1/projects/")) == 2, "both workers wrote"
        # Each worker's read models caught up with the other's writes, each counted once.
        for _ in range(2):  # (new connections: likely one answer from each worker)
            pending = [Decimal(line["pending"]) for code in CODES for line in server.request(
                "GET", f"/api/v1/projects/{code}/budget", headers=pm).json()]
            assert sum(pending) == Decimal("10.00") * len(statuses)

        victim, survivor = server.workers()
        os.kill(victim, signal.SIGKILL)
        for _ in range(4):  # answered meanwhile by the survivor
            r = server.request("GET", f"/api/v1/projects/{CODES[0]}", headers=pm)
            assert r.status == 200, r.text
        wait_for(lambda: len(server.workers()) == 2 and victim not in server.workers(), 20,
                 "gunicorn to replace the killed worker")
        assert survivor in server.workers()
        more = [submit(server, pm, 1000 + n) for n in range(4)]
        assert more == [201] * 4

        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0, server.log()[-3000:]
    log = server.log()
    assert "Handling signal: term" in log and "Shutting down: Master" in log
    assert "Traceback" not in log, log[-3000:]

    report = verify(backend_url)
    assert report["ok"] is True and report["faults"] == []
    assert report["events"] == before + len(statuses) + len(more), "one event per acknowledged write"


@pytest.fixture
def cuttable_postgres(tmp_path: Path):  # noqa: ANN201
    """A fresh schema on the test PostgreSQL, reached through a TcpProxy we can cut."""
    require_postgres()
    schema = f"t_serve_{os.getpid()}_{time.monotonic_ns()}"
    pg_admin(f'CREATE SCHEMA "{schema}"')
    try:
        with TcpProxy(PG_PORT) as proxy:
            yield proxy, f"postgresql://postgres@{PG_HOST}:{proxy.port}/test?schema={schema}&connect_timeout=1"
    finally:
        pg_admin(f"SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")


def test_postgres_going_away_is_a_clean_503_and_the_server_recovers_by_itself(
        cuttable_postgres: tuple[TcpProxy, str], tmp_path: Path) -> None:
    proxy, url = cuttable_postgres
    seed(url)
    with Served.launch(url, tmp_path) as server:
        pm = server.token("pm")
        server.sign_in("pm")
        project = f"/api/v1/projects/{CODES[0]}"
        assert server.request("GET", project, headers=pm).status == 200
        size = ledger_size(url)

        proxy.cut()
        # At once: the library retries a read ten times (each waiting connect_timeout for
        # a connection) before the request gives up, so each of these takes ~12 s.
        with ThreadPoolExecutor(3) as pool:
            api, page, write = pool.map(lambda ask: ask(), (
                lambda: server.request("GET", project, headers=pm),
                lambda: server.request("GET", f"/projects/{CODES[0]}", cookies=True),
                lambda: submit(server, pm, 1)))
        assert api.status == 503 and api.json()["code"] == "backend-unavailable", api.text
        assert set(api.json()) >= {"code", "message"} and api.headers["Retry-After"].isdigit()
        assert page.status == 503 and "not available" in page.text and "Traceback" not in page.text
        assert page.headers["Retry-After"].isdigit()
        assert write == 503

        proxy.restore()
        streak: list[int] = []

        def recovered() -> bool:
            streak.append(server.request("GET", project, headers=pm).status)
            return streak[-10:] == [200] * 10

        wait_for(recovered, 30, "ten answers in a row after the database came back")
        assert server.request("GET", f"/projects/{CODES[0]}", cookies=True).status == 200
        assert submit(server, pm, 2) == 201
    log = server.log()
    assert "database unavailable on" in log and "Traceback" not in log, log[-3000:]
    assert ledger_size(url) == size + 1, "the refused write left nothing; the later one is there"
