"""Production serving: the Flask app under gunicorn, configured here rather than by a
gunicorn config file, so `pmo-ledger serve` owns every setting.

    serve(app, host="127.0.0.1", port=5000, workers=2, threads=4)

- Pre-forking workers (`--workers`), each with a few threads (gthread: a slow request
  does not stall its worker's heartbeat). The master prepares the ledger and closes it
  before forking (web/cli.py); each worker opens its own connections on its first request
  (web/ledger_access.py) and closes them when it exits.
- SIGTERM: graceful stop (in-flight requests finish, up to `graceful_timeout`); a worker
  that dies, even by SIGKILL, is replaced by the master.
- The master killed (SIGKILL, OOM): its workers must not outlive it. Each asks Linux for a
  SIGTERM when its master ends (`prctl(PR_SET_PDEATHSIG)`, in `post_fork`), and notices
  anyway on its next loop (`LedgerWorker.notify`: the parent pid changed). An orphaned
  worker then lets go of the listening socket at once -- so the same `serve` started again
  binds the port straight away instead of failing with "Connection in use" -- answers what
  it had taken (kept-alive connections get `Connection: close`), and exits: within a
  second or two. gunicorn's own check of the parent only left the loop and kept the socket
  and every kept-alive client for up to `graceful_timeout`.
- A worker's ledger is closed only once its requests in flight are done (counted by the
  `pre_request`/`post_request` hooks; `worker_exit` waits up to IN_FLIGHT_SECONDS): closing
  the pool under a request that had committed made it answer 500. What fails after a
  commit is answered with the success anyway (web/idempotency.py).
- Logs go to stderr: gunicorn's, the app's, and the access log. The access log records
  the path without the query string (it may carry tokens or search terms) and no Referer.
- The database going away (PostgreSQL restarting): requests get 503 with Retry-After
  (web/errors.py). The `eventsourcing` library retries its reads ten times, each waiting
  up to the URL's `connect_timeout` (default 5 s) for a connection, so a restart of a few
  seconds is ridden out and a longer outage answers 503 after up to ~10 x connect_timeout.
  `serve` turns on the library's pre-ping (POSTGRES_PRE_PING), so once the server is back
  no request fails on a pooled connection that died meanwhile.
- The ledger's integrity (ledger/integrity.py, wired in web/app.py): the master verifies
  the log as it catches the read models up (from the position remembered in the database,
  its chain hash checked) and the workers resume from there. Each worker then verifies on
  its own, sharing nothing but that remembered position: every request first reads the
  chain head (one indexed read) and verifies any new position before it can enter the read
  models, and a background thread per worker recomputes every chain link every
  $PMO_LEDGER_INTEGRITY_SWEEP_SECONDS (default 5) -- so a byte changed anywhere shows in
  every worker within seconds -- and runs the full verification every
  $PMO_LEDGER_FULL_VERIFY_SECONDS (default daily; at most one process at a time). Why not
  share the state: a fault or a "verified up to" written to the database is written where
  the insider writes, and a worker must verify what it projects anyway; the sweep costs
  each worker about 0.06 s per 11,000 events per round.
- gunicorn's control socket is off: several servers (tests, a demo) run side by side and
  would fight over one socket path in $HOME.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

from web.ledger_access import close_ledger

ACCESS_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms %(p)s'
GRACEFUL_SECONDS = 30
IN_FLIGHT_SECONDS = 10  # a worker's exit waits this long for its requests before closing
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class StderrLogger(Logger):
    """gunicorn's logger with the access log on stderr too (it defaults to stdout)."""

    def _set_handler(self, log: logging.Logger, output: Any, fmt: Any, stream: Any = None) -> None:
        super()._set_handler(log, output, fmt, stream=sys.stderr)


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Have Linux send `sig` to this process when its parent ends (prctl PR_SET_PDEATHSIG);
    False where that cannot be asked (not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


class LedgerWorker(ThreadWorker):
    """gunicorn's threaded worker (gthread) that, once its master is gone, stops taking
    connections and lets go of the listening sockets before it finishes what it answers.

    `notify` (the heartbeat) runs on the worker's main loop between events, the one place a
    worker may change what its poller watches; gunicorn's own check of the parent comes
    right after it, on the same loop."""

    orphaned = False

    def notify(self) -> None:
        super().notify()
        if not self.orphaned and os.getppid() != self.ppid:
            self.let_go()

    def let_go(self) -> None:
        """No master: no more connections; the port is free for the next server."""
        self.orphaned = True
        self.alive = False  # as SIGTERM: kept-alive clients are answered "Connection: close"
        self.log.warning("master %s is gone: worker %s lets go of the listening socket, "
                         "finishes the requests it has and exits", self.ppid, self.pid)
        accepting = getattr(self, "set_accept_enabled", None)
        if accepting is not None:
            accepting(False)  # out of the poller (gunicorn >= 24)
        else:
            for listener in self.sockets:
                try:
                    self.poller.unregister(listener)
                except (KeyError, ValueError, OSError):
                    pass
        for listener in self.sockets:
            listener.close()
        self.sockets = []


class InFlight:
    """Requests a worker process is answering now (gunicorn's request hooks count them)."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def started(self, _worker: Any, _req: Any) -> None:
        with self.changed:
            self.count += 1

    def ended(self, _worker: Any, _req: Any, _environ: Any, _resp: Any) -> None:
        with self.changed:
            self.count -= 1
            self.changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count <= 0, timeout)


class LedgerServer(BaseApplication):
    """gunicorn's master over one prepared Flask app; `options` are gunicorn settings."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            if name in self.cfg.settings:  # settings newer than the installed gunicorn: skipped
                self.cfg.set(name, value)

    def load(self) -> Flask:
        return self.application


def options(app: Flask, host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    """The gunicorn settings `serve` runs with."""

    in_flight = InFlight()  # each forked worker has its own count

    def post_fork(server: Any, worker: Any) -> None:
        die_with_parent(signal.SIGTERM)  # SIGTERM: the graceful stop, when the master ends
        if os.getppid() != server.pid:  # it ended before we asked: nothing would tell us
            sys.exit(0)

    def worker_exit(_server: Any, worker: Any) -> None:
        if not in_flight.wait_idle(IN_FLIGHT_SECONDS):
            worker.log.warning("worker %s closes its ledger with %d request(s) still in flight",
                               worker.pid, in_flight.count)
        close_ledger(app)  # this worker's own connections; SQLite checkpoints its WAL

    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": LedgerWorker,
        "threads": threads,
        "graceful_timeout": GRACEFUL_SECONDS,
        "proc_name": "pmo-ledger",
        "logger_class": StderrLogger,
        "errorlog": "-",
        "accesslog": "-",
        "access_log_format": ACCESS_FORMAT,
        "loglevel": "info",
        "control_socket_disable": True,
        "limit_request_line": 8190,  # its maximum; web/errors.py answers URLs over 8,000 bytes: 414
        "post_fork": post_fork,
        "pre_request": in_flight.started,
        "post_request": in_flight.ended,
        "worker_exit": worker_exit,
    }


def serve(app: Flask, *, host: str, port: int, workers: int, threads: int) -> None:
    """Run gunicorn until it is stopped (SIGTERM or SIGINT)."""
    compile_templates(app)
    LedgerServer(app, options(app, host, port, workers, threads)).run()


def compile_templates(app: Flask) -> None:
    """Compile every template once in the master, so the forked workers inherit them
    rather than each compiling them again on its first requests, under load."""
    env = app.jinja_env
    for name in env.list_templates(extensions=("html",)):
        env.get_template(name)
