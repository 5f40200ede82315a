"""The gunicorn hooks of `serve` (web/serve.py) on their own: a worker asks to die with its
master, and a worker's exit closes its ledger only once its requests in flight are done.
The whole story, under load with the master killed, is in tests/test_faults.py."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from web import serve

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_process_that_asked_to_die_with_its_parent_gets_sigterm_when_the_parent_is_killed(
        tmp_path: Path) -> None:
    mark = tmp_path / "got-sigterm"
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        sys.path.insert(0, {str(REPO)!r})
        from web.serve import die_with_parent
        child = os.fork()
        if child == 0:  # the worker
            signal.signal(signal.SIGTERM, lambda *_: (open({str(mark)!r}, "w").close(), os._exit(0)))
            assert die_with_parent(signal.SIGTERM)
            os.kill(os.getppid(), signal.SIGKILL)  # its master killed
            time.sleep(10)
            os._exit(1)  # never told
        os.waitpid(child, 0)  # never returns: killed by its child
    """)
    done = subprocess.run([sys.executable, "-c", script], timeout=30, check=False)
    assert done.returncode == -9
    deadline = time.monotonic() + 5
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mark.exists(), "the orphan was not sent SIGTERM"


class _Worker:
    pid = 4242

    class log:  # noqa: N801 - gunicorn's logger, as far as the hook uses it
        warnings: list[str] = []

        @classmethod
        def warning(cls, msg: str, *args: Any) -> None:
            cls.warnings.append(msg % args)


def test_a_workers_exit_closes_its_ledger_only_after_its_requests_in_flight(
        monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[float] = []
    monkeypatch.setattr(serve, "close_ledger", lambda _app: closed.append(time.monotonic()))
    hooks = serve.options(object(), "127.0.0.1", 0, 1, 1)  # type: ignore[arg-type]
    worker = _Worker()
    hooks["pre_request"](worker, "request")  # a request in flight
    exiting = threading.Thread(target=hooks["worker_exit"], args=(None, worker))
    exiting.start()
    time.sleep(0.3)
    assert not closed, "the ledger was closed under a request in flight"
    ended = time.monotonic()
    hooks["post_request"](worker, "request", {}, None)
    exiting.join(5)
    assert closed and closed[0] >= ended


def test_a_workers_exit_does_not_wait_forever(monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[bool] = []
    monkeypatch.setattr(serve, "close_ledger", lambda _app: closed.append(True))
    monkeypatch.setattr(serve, "IN_FLIGHT_SECONDS", 0.2)
    hooks = serve.options(object(), "127.0.0.1", 0, 1, 1)  # type: ignore[arg-type]
    worker = _Worker()
    hooks["pre_request"](worker, "a request that never ends")
    hooks["worker_exit"](None, worker)
    assert closed == [True]
    assert any("1 request(s) still in flight" in w for w in worker.log.warnings)


def test_serve_runs_the_worker_that_lets_go_of_the_port() -> None:
    hooks = serve.options(object(), "127.0.0.1", 0, 1, 1)  # type: ignore[arg-type]
    assert hooks["worker_class"] is serve.LedgerWorker
    assert callable(hooks["post_fork"])
