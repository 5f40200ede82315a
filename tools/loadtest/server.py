"""`pmo-ledger serve` as a subprocess on a loopback port: start, wait, stop, or kill.

    server = Server(url, port, workers=4, log_path=Path("serve.log")).start()
    server.workers()      # the gunicorn master's children (its workers)
    server.kill_all()     # SIGKILL the master and every worker (a crash, not a stop)
    orphans = server.kill_master()   # SIGKILL the master alone; its workers must follow
    wait_gone(orphans, 10)           # seconds until they have (or AssertionError)
    server.start()        # the same command again, on the same port
    server.stop()         # SIGTERM: graceful

Used by the load driver and by the fault tests, which kill it in the middle of a load.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str, port: int, *, workers: int, threads: int = 4,
                 log_path: Path, env: dict[str, str] | None = None) -> None:
        self.url, self.port, self.workers_wanted, self.threads = url, port, workers, threads
        self.log_path, self.env = log_path, env or {}
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-c", "from web.cli import main; main()", "serve", "--db", self.url,
                "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", str(self.workers_wanted), "--threads", str(self.threads)]

    def start(self, ready_timeout: float = 120) -> Server:
        """Start (again: the log is appended to) and wait until every worker answers."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.command(), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **self.env})
        self.starts += 1
        try:
            self.wait_ready(ready_timeout)
        except BaseException:
            self.stop()  # never left running (it would hold the database) when not ready
            raise
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited {self.proc.returncode}:\n{self.log()[-3000:]}")
            if len(self.workers()) >= self.workers_wanted and self.answers():
                return
            time.sleep(0.2)
        raise RuntimeError(f"serve did not answer within {timeout}s:\n{self.log()[-3000:]}")

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.base + "/signin", timeout=5) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def workers(self) -> list[int]:
        """The master's child processes, from /proc (Linux)."""
        if self.proc is None:
            return []
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            return []

    def kill_worker(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def kill_all(self) -> None:
        """SIGKILL the master first (so it cannot replace anyone), then its workers."""
        assert self.proc is not None
        workers = self.workers()
        self.proc.send_signal(signal.SIGKILL)
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(30)
        for pid in workers:  # gone once the kernel reaped them (init adopts orphans)
            _wait_gone(pid, 30)

    def kill_master(self) -> list[int]:
        """SIGKILL the master alone (its workers are left to notice); its workers' pids."""
        assert self.proc is not None
        workers = self.workers()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        return workers

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM and wait (graceful); SIGKILL if it does not stop in time."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_all()
            return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_gone(pids: list[int], timeout: float) -> float:
    """Seconds until every process in `pids` has ended (zombies count as ended); raise
    AssertionError naming those left after `timeout`."""
    started = time.monotonic()
    for pid in pids:
        _wait_gone(pid, max(0.0, timeout - (time.monotonic() - started)))
    left = [pid for pid in pids if _running(pid)]
    if left:
        raise AssertionError(f"processes {left} still running {timeout}s later")
    return time.monotonic() - started


def _running(pid: int) -> bool:
    try:
        return not Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith(("Z", "X"))
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
                return  # a zombie holds no socket or lock
        except (FileNotFoundError, IndexError):
            return
        time.sleep(0.05)
