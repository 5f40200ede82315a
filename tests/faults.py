"""Faults under load (tests/test_faults_*.py): `pmo-ledger serve` with the load test's locust mix (tools/loadtest) running
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

from pathlib import Path
from typing import Any

from ledger.application import ledger_size
from ledger.keys import PASSPHRASE_ENV
from tests.serving import PASSWORD, PW, Served
from tools.loadtest.audit import audit
from tools.loadtest.driver import Options, finish_runner, prepare, runner_process
from tools.loadtest.server import Server

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

