"""One load-test run, start to finish; returns its report as a dict.

    report = run_load(Options(backend="postgresql", users=16, seconds=60, workers=4))

1. a fresh database: an SQLite file in a new folder, or a new schema on PostgreSQL
   (dropped afterwards unless `keep`); or `db`, an existing URL, used as it is;
2. seeded with the demo portfolio (`pmo-ledger demo`, a subprocess);
3. `pmo-ledger serve --workers N` on a free loopback port;
4. tokens for the project managers and fiscal officers, the active projects and the line
   with the most money left on each (so no expenditure is refused for lack of funds);
5. the load (`runner.py`, its own process) for `seconds`; with `restart_postgres`, the
   real PostgreSQL cluster is restarted at `restart_at` seconds (never do this on a
   machine where others use that PostgreSQL);
6. the server stopped (SIGTERM), then the audit (audit.py) and the count check: the log
   grew by exactly the acknowledged writes and the tokens. (Each write carries an
   Idempotency-Key and is sent again while unanswered, mix.py: a write the server answered
   only on a repeat is acknowledged once and written once.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ledger.application import ledger_size
from tools.loadtest.audit import audit, cli
from tools.loadtest.server import Server, free_port

PASSWORD = "loadtest-demo-password"
TOKEN_HOLDERS = ("pm", "pm2", "fiscal", "fiscal2")
# Who reads the pages, and which review queue their role has.
READERS = (("fiscal", "fiscal"), ("sponsor", "sponsor"), ("fiscal2", "fiscal"), ("pmo", "pmo"))
SUBMISSION_P95_GOAL_MS = 150
CATEGORIES = ("reads", "submissions", "approvals", "baseline", "setup")


@dataclass
class Options:
    backend: str = "sqlite"  # sqlite | postgresql (ignored when `db` is given)
    db: str | None = None
    pg_admin: str = "postgresql://postgres@127.0.0.1:5432/test"
    users: int = 16
    seconds: float = 60
    workers: int = 4
    threads: int = 4
    think_seconds: tuple[float, float] = (0.0, 0.0)
    restart_postgres: str | None = None  # a cluster version, e.g. "16"
    restart_at: float | None = None  # seconds into the load (default: halfway)
    keep: bool = False
    seed_demo: bool = True  # False: `db` is already seeded (people with `password`)
    password: str = PASSWORD
    env: dict[str, str] = field(default_factory=dict)  # for the server (a passphrase...)
    folder: Path | None = None  # logs and the SQLite file (default: a new temporary folder)


def run_load(opts: Options) -> dict[str, Any]:
    folder = opts.folder or Path(tempfile.mkdtemp(prefix="pmo-loadtest-"))
    folder.mkdir(parents=True, exist_ok=True)
    with fresh_database(opts, folder) as url:
        if opts.seed_demo and not (opts.db and _holds_a_ledger(url)):
            seed(url, opts.password, opts.env)
        server = Server(url, free_port(), workers=opts.workers, threads=opts.threads,
                        log_path=folder / "serve.log", env=opts.env)
        load_before = os.getloadavg()
        server.start()
        try:
            plan = prepare(server.base, opts)
            size_before = ledger_size(url)
            restart = PostgresRestart(opts) if opts.restart_postgres else None
            result = run_runner(plan, folder, restart)
        finally:
            stopped = server.stop()
        load_after = os.getloadavg()
        report = _report(opts, url, folder, result, size_before, restart)
        report["machine"] = {"cpus": os.cpu_count(), "load_average_before": _rounded(load_before),
                             "load_average_after": _rounded(load_after)}
        report["server"] = {"exit": stopped, "log": str(server.log_path),
                            "tracebacks": server.log().count("Traceback")}
        report["ok"] = report["ok"] and report["server"]["tracebacks"] == 0
    return report


@contextmanager
def fresh_database(opts: Options, folder: Path) -> Iterator[str]:
    if opts.db:
        yield opts.db
    elif opts.backend == "sqlite":
        yield f"sqlite:///{folder / 'ledger.sqlite3'}"
    else:
        schema = f"loadtest_{uuid.uuid4().hex[:12]}"
        _pg(opts.pg_admin, f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in opts.pg_admin else "?"
        try:
            yield f"{opts.pg_admin}{sep}schema={schema}"
        finally:
            if not opts.keep:
                _pg(opts.pg_admin, f"SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")


def _holds_a_ledger(url: str) -> bool:
    """Whether `url` already holds an initialised ledger (used as it is, not seeded)."""
    from ledger.errors import NotInitialisedError

    try:
        return ledger_size(url) > 0
    except NotInitialisedError:
        return False


def _pg(dsn: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


def seed(url: str, password: str = PASSWORD, env: dict[str, str] | None = None) -> None:
    """The demo portfolio, its people signing in with `password`, its keys under the
    server's environment (its passphrase)."""
    done = cli("demo", "--db", url, "--password", password, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"pmo-ledger demo failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


# Setup over HTTP ----------------------------------------------------------------------------


def prepare(base: str, opts: Options) -> dict[str, Any]:
    """The runner's plan: tokens (one API write each), and where money can be spent."""
    tokens = {who: _post(base, "/api/v1/tokens", {"username": who, "password": opts.password,
                                                   "label": "load test"})["token"]
              for who in TOKEN_HOLDERS}
    auth = {"Authorization": f"Bearer {tokens['pm']}"}
    projects = []
    for summary in _get(base, "/api/v1/projects", auth):
        if summary["status"] != "active" or Decimal(summary["available"]) <= 1000:
            continue
        lines = _get(base, f"/api/v1/projects/{summary['project']}/budget", auth)
        best = max(lines, key=lambda line: Decimal(line["available"]))
        projects.append({"code": summary["project"], "line": best["line"]})
    return {"host": base, "users": opts.users, "seconds": opts.seconds, "password": opts.password,
            "readers": [list(r) for r in READERS], "tokens": tokens, "projects": projects,
            "think_seconds": list(opts.think_seconds)}


def _get(base: str, path: str, headers: dict[str, str]) -> Any:
    with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers), timeout=60) as r:
        return json.loads(r.read())


def _post(base: str, path: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


# The load ------------------------------------------------------------------------------------


def runner_process(plan: dict[str, Any], folder: Path) -> tuple[subprocess.Popen, Path]:
    """Start the locust runner on `plan`; its result lands in the returned path."""
    tag = uuid.uuid4().hex[:8]
    plan_path, out_path = folder / f"plan-{tag}.json", folder / f"result-{tag}.json"
    plan_path.write_text(json.dumps(plan))
    with (folder / f"runner-{tag}.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tools.loadtest.runner", str(plan_path), str(out_path)],
                                cwd=Path(__file__).resolve().parents[2], stdout=log,
                                stderr=subprocess.STDOUT)
    return proc, out_path


def finish_runner(proc: subprocess.Popen, out_path: Path, seconds: float) -> dict[str, Any]:
    try:
        code = proc.wait(seconds + 180)
    except BaseException:
        proc.kill()  # a runner that overran (or an interrupted wait) is not left behind
        proc.wait()
        raise
    if code != 0 or not out_path.exists():
        log = out_path.with_name(out_path.name.replace("result-", "runner-").replace(".json", ".log"))
        raise RuntimeError(f"the load runner failed ({code}):\n{log.read_text(errors='replace')[-3000:]}")
    return json.loads(out_path.read_text())


def run_runner(plan: dict[str, Any], folder: Path, restart: PostgresRestart | None) -> dict[str, Any]:
    proc, out_path = runner_process(plan, folder)
    if restart is not None:
        restart.schedule(plan["seconds"])
    result = finish_runner(proc, out_path, plan["seconds"])
    if restart is not None:
        restart.join()
    return result


class PostgresRestart:
    """Restart the real cluster mid-run (`pg_ctlcluster VERSION main restart`), timed."""

    def __init__(self, opts: Options) -> None:
        self.version = opts.restart_postgres
        self.at = opts.restart_at
        self.result: dict[str, Any] = {}
        self.thread: threading.Thread | None = None

    def schedule(self, seconds: float) -> None:
        at = self.at if self.at is not None else seconds / 2
        self.thread = threading.Thread(target=self._restart, args=(at,), daemon=True)
        self.thread.start()

    def _restart(self, at: float) -> None:
        time.sleep(at)
        started = time.time()
        done = subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", str(self.version), "main",
                               "restart"], capture_output=True, text=True, timeout=120, check=False)
        self.result = {"started_at": started, "seconds": round(time.time() - started, 2),
                       "exit": done.returncode, "output": (done.stdout + done.stderr)[-500:]}

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join(180)


# The report ----------------------------------------------------------------------------------


def _report(opts: Options, url: str, folder: Path, result: dict[str, Any], size_before: int,
            restart: PostgresRestart | None) -> dict[str, Any]:
    checks = audit(url, result["acknowledged"], answered_error=result.get("answered_error", []),
                   unanswered=result.get("unanswered", []))
    size_after = checks["size"]
    acknowledged = len(result["acknowledged"])
    cats = result["categories"]
    errors = {c: cats.get(c, {}).get("errors", 0) for c in CATEGORIES}
    mix = _mix(cats)
    report: dict[str, Any] = {
        "backend": "postgresql" if url.startswith("postgres") else "sqlite",
        "options": {**{k: v for k, v in asdict(opts).items()
                       if k not in ("folder", "password", "env")},
                    "folder": str(folder)},
        "seconds": result["seconds"], "users": result["users"],
        "categories": {c: cats[c] for c in CATEGORIES if c in cats},
        "requests": result["requests"], "mix": mix, "errors": errors,
        "failure_samples": result["failure_samples"][:20],
        "log": {"size_before": size_before, "size_after": size_after,
                "acknowledged_writes": acknowledged,
                "unacknowledged_events": size_after - size_before - acknowledged,
                "left_pending": result["left_pending"],
                "writes_answered_error": len(result.get("answered_error", [])),
                "writes_unanswered": len(result.get("unanswered", [])),
                "repeats_sent": result.get("retries", 0),
                "repeats_answered_from_key": result.get("replayed", 0)},
        "audit": checks,
    }
    sub_p95 = cats.get("submissions", {}).get("p95_ms")
    report["goal"] = {"zero_errors": sum(errors.values()) == 0,
                      "submissions_p95_ms": sub_p95,
                      "submissions_p95_under_150ms": sub_p95 is not None and sub_p95 < SUBMISSION_P95_GOAL_MS}
    if restart is not None:
        report["postgres_restart"] = _outage(restart.result, result)
        clean = report["postgres_restart"]["only_503"]
    else:
        clean = report["goal"]["zero_errors"] and report["log"]["unacknowledged_events"] == 0
    report["ok"] = bool(clean and checks["ok"])
    return report


def _mix(cats: dict[str, Any]) -> dict[str, float]:
    counts = {c: cats.get(c, {}).get("requests", 0) for c in ("reads", "submissions", "approvals")}
    total = sum(counts.values()) or 1
    return {f"{c}_percent": round(100 * n / total, 1) for c, n in counts.items()}


def _outage(restart: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """During a real restart: which failures, and how long until the last of them."""
    times = result["failure_times"]
    statuses: dict[str, int] = {}
    for _, status in times:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    began = restart.get("started_at", result["started_at"]) - result["started_at"]
    last = max((t for t, _ in times), default=None)
    return {**restart, "at_second": round(began, 2), "failure_statuses": statuses,
            "only_503": set(statuses) <= {"503"},
            "last_failure_second": last,
            "recovered_after_seconds": None if last is None else round(last - began, 2)}


def _rounded(values: tuple[float, ...]) -> list[float]:
    return [round(v, 2) for v in values]
