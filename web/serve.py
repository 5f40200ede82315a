"""Production serving: the Flask app under gunicorn, configured here rather than by a
gunicorn config file, so `pmo-ledger serve` owns every setting.

    serve(app, host="127.0.0.1", port=5000, workers=2, threads=4)

- Pre-forking workers (`--workers`), each with a few threads (gthread: a slow request
  does not stall its worker's heartbeat). The master prepares the ledger and closes it
  before forking (web/cli.py); each worker opens its own connections on its first request
  (web/ledger_access.py) and closes them when it exits.
- SIGTERM: graceful stop (in-flight requests finish, up to `graceful_timeout`); a worker
  that dies, even by SIGKILL, is replaced by the master.
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

import logging
import sys
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from web.ledger_access import close_ledger

ACCESS_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms %(p)s'
GRACEFUL_SECONDS = 30


class StderrLogger(Logger):
    """gunicorn's logger with the access log on stderr too (it defaults to stdout)."""

    def _set_handler(self, log: logging.Logger, output: Any, fmt: Any, stream: Any = None) -> None:
        super()._set_handler(log, output, fmt, stream=sys.stderr)


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

    def worker_exit(_server: Any, _worker: Any) -> None:
        close_ledger(app)  # this worker's own connections; SQLite checkpoints its WAL

    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
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
