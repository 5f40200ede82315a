"""Issue 17 item 2: verification on request starved the server (one `GET /api/v1/ledger/verify`
took seconds on a request thread; eight at once made a budget read wait 40 s).

Now on-demand verification is one background job at a time, per ledger head, shared by the
API and the auditor's page: a request while one runs joins it (202, progress, a Location to
poll), a finished result for the current head is answered from cache (200), and a token may
start a new run only every VERIFY_START_INTERVAL seconds (429 with Retry-After).

A verification here is made slow on purpose: `ledger.verify.verify_log` spends SLOW seconds
of pure-Python CPU (holding the GIL, as the real one mostly does) before the real work.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import ApiClient, refused
from tests.api.test_tokens import TOKEN_FIELD, signed_in

SLOW = 1.5  # seconds of CPU one verification spends before its real work


class Verifications:
    """Counts the verifications that ran (not the integrity monitor's), and where."""

    def __init__(self, slow: float = 0.0) -> None:
        self.slow = slow
        self.threads: list[str] = []
        self.seconds: list[float] = []
        self.gate: threading.Event | None = None
        self.lock = threading.Lock()

    def wrap(self, real: Any) -> Any:
        def verify_log(*args: Any, **kwargs: Any) -> Any:
            name = threading.current_thread().name
            if name.startswith("pmo-ledger-integrity"):
                return real(*args, **kwargs)
            with self.lock:
                self.threads.append(name)
            started = time.perf_counter()
            if self.gate is not None:
                assert self.gate.wait(30), "the test never released the verification"
            end = time.thread_time() + self.slow  # CPU time: slower when sharing the GIL
            while time.thread_time() < end:  # holding the GIL, as the real one mostly does
                sum(i * i for i in range(500))
            try:
                return real(*args, **kwargs)
            finally:
                self.seconds.append(time.perf_counter() - started)

        return verify_log

    @property
    def count(self) -> int:
        return len(self.threads)


@pytest.fixture
def runs(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[Verifications]:
    import ledger.verify

    api.app.config["INTEGRITY_BACKGROUND"] = False  # its daily full verification: not counted
    api.app.config["VERIFY_START_INTERVAL"] = 60
    counter = Verifications()
    monkeypatch.setattr(ledger.verify, "verify_log", counter.wrap(ledger.verify.verify_log))
    yield counter
    if counter.gate is not None:
        counter.gate.set()
    wait_idle(api)


def wait_idle(api: ApiClient, timeout: float = 60) -> None:
    """Let a run the test started finish before the ledger is closed."""
    from web import verify_jobs

    deadline = time.monotonic() + timeout
    while verify_jobs.running(api.app) is not None and time.monotonic() < deadline:
        time.sleep(0.05)


def verify(api: ApiClient, who: str = "auditor") -> Any:
    return api.get("ledger/verify", who)


def poll(api: ApiClient, location: str, who: str = "auditor", timeout: float = 60) -> dict[str, Any]:
    """Poll a job's Location until it is done; its last state."""
    deadline = time.monotonic() + timeout
    while True:
        r = api.client.get(location, headers=api.headers(who))
        assert r.status_code == 200, r.get_json()
        job = r.get_json()
        if job["status"] != "running" or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def budget_read(api: ApiClient) -> float:
    client = api.app.test_client()
    started = time.perf_counter()
    r = client.get(f"/api/v1/projects/{api.code}/budget", headers=api.headers("pm"))
    took = time.perf_counter() - started
    assert r.status_code == 200, r.get_json()
    return took


def test_eight_concurrent_verifications_run_once_and_a_budget_read_stays_fast(
        api: ApiClient, runs: Verifications) -> None:
    # Ordered by events, not by a stopwatch: the run is held at a gate until every request
    # has been answered (so none waited for a verification), then it spends SLOW seconds of
    # GIL-holding CPU, and a budget read must come back while that run is still going.
    runs.slow = SLOW
    runs.gate = threading.Event()
    budget_read(api)  # warm: the read models, the aggregates, the token lookups

    answers: list[Any] = []
    barrier = threading.Barrier(9)

    def ask(who: str) -> None:
        client = api.app.test_client()
        barrier.wait()
        answers.append(client.get("/api/v1/ledger/verify", headers=api.headers(who)))

    who = ["auditor"] * 4 + ["pmo"] * 2 + ["admin"] * 2
    threads = [threading.Thread(target=ask, args=(w,)) for w in who]
    for t in threads:
        t.start()
    barrier.wait()
    for t in threads:  # before the fix, each request verified on its own thread
        t.join(30)
    held = not runs.seconds and all(not t.is_alive() for t in threads)
    runs.gate.set()
    assert held, "a verify request waited for a verification to finish"
    assert len(answers) == 8
    bodies = [a.get_json() for a in answers]
    assert {a.status_code for a in answers} == {202}, bodies
    assert len({b["id"] for b in bodies}) == 1, "every request joined the one run"
    assert all(a.headers["Location"].endswith(f"/api/v1/ledger/verify/jobs/{bodies[0]['id']}")
               for a in answers)

    took = budget_read(api)  # while the run spends its CPU
    read_during_run = not runs.seconds
    job = poll(api, answers[0].headers["Location"])
    print(f"\nbudget read during a verification of {runs.seconds[0]:.2f} s: {took * 1000:.1f} ms")
    assert read_during_run, "the budget read waited behind the verification"
    assert job["status"] == "done" and job["report"]["ok"] is True, job
    assert runs.count == 1, runs.threads
    assert runs.threads[0].startswith("verify-"), "never on a request thread"


def test_a_finished_result_for_the_current_head_is_answered_from_cache(
        api: ApiClient, runs: Verifications) -> None:
    first = verify(api)
    assert first.status_code == 202, first.get_json()
    job = first.get_json()
    assert job["status"] == "running" and job["size"] == api.size() and job["report"] is None
    assert 0 <= job["percent"] <= 100 and job["total"] >= 0
    done = poll(api, first.headers["Location"])
    assert done["status"] == "done" and done["percent"] == 100 and done["ok"] is True
    for who in ("auditor", "pmo", "admin"):
        cached = verify(api, who)
        assert cached.status_code == 200, cached.get_json()
        report = cached.get_json()
        assert report == done["report"]
        assert report["ok"] is True and report["events"] == api.size()
    assert runs.count == 1


def test_a_new_head_needs_a_new_run_which_a_token_may_start_once_a_minute(
        api: ApiClient, runs: Verifications) -> None:
    poll(api, verify(api).headers["Location"])
    before = api.size()
    written = api.post(api.project("/risks"), "pm", {
        "title": "New", "probability": 1, "impact": 1, "owner": "pm", "mitigation": "m"})
    assert written.status_code == 201 and api.size() == before + 1
    body = refused(api, verify(api, "auditor"), 429, "too-many-requests", api.size())
    assert "verification" in body["message"], body
    assert 1 <= int(api.last.headers["Retry-After"]) <= 60
    other = verify(api, "pmo")  # another token may start it
    assert other.status_code == 202 and other.get_json()["size"] == before + 1
    assert verify(api, "auditor").status_code == 202  # joining is never limited
    done = poll(api, other.headers["Location"])
    assert done["report"]["events"] == before + 1
    assert verify(api, "auditor").status_code == 200
    assert runs.count == 2


def test_the_page_and_the_api_share_one_run(api: ApiClient, runs: Verifications) -> None:
    runs.gate = threading.Event()
    started = verify(api)
    assert started.status_code == 202
    job_id = started.get_json()["id"]
    client = signed_in(api, "auditor")
    csrf = TOKEN_FIELD.search(client.get("/audit/verify").get_data(as_text=True)).group(1)
    page = client.post("/audit/verify", data={"csrf_token": csrf})
    assert page.status_code == 302 and page.location.endswith(f"/audit/verify/{job_id}")
    progress = client.get(f"/audit/verify/{job_id}?format=json").get_json()
    assert progress["finished"] is False
    runs.gate.set()
    job = poll(api, started.headers["Location"])
    assert job["status"] == "done"
    assert re.search(r'id="verify-verdict">Clean', client.get(page.location).get_data(as_text=True))
    # From the page, "Run again" runs again (the API answers the cached result instead).
    again = client.post("/audit/verify", data={"csrf_token": csrf})
    assert again.status_code == 302 and not again.location.endswith(job_id)
    poll(api, f"/api/v1/ledger/verify/jobs/{again.location.rsplit('/', 1)[1]}")
    assert runs.count == 2


def test_a_run_that_fails_says_so_and_the_next_request_starts_another(
        api: ApiClient, runs: Verifications, monkeypatch: pytest.MonkeyPatch) -> None:
    import ledger.verify

    real = ledger.verify.verify_log

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ledger.verify, "verify_log", broken)
    failed = poll(api, verify(api, "auditor").headers["Location"])
    assert failed["status"] == "failed" and "disk on fire" in failed["error"], failed
    assert failed["ok"] is None and failed["report"] is None
    monkeypatch.setattr(ledger.verify, "verify_log", real)
    retried = verify(api, "pmo")
    assert retried.status_code == 202 and retried.get_json()["id"] != failed["id"]
    assert poll(api, retried.headers["Location"])["status"] == "done"


def test_the_job_resource_needs_oversight(api: ApiClient, runs: Verifications) -> None:
    location = verify(api).headers["Location"]
    size = api.size()
    refused(api, api.client.get(location), 401, "unauthorised", size)
    refused(api, api.client.get(location, headers=api.headers("pm")), 403, "forbidden", size)
    refused(api, api.get("ledger/verify/jobs/000000000000"), 404, "not-found", size)
    poll(api, location)


def test_the_operations_are_documented(api: ApiClient) -> None:
    spec = api.client.get("/api/v1/openapi.json").get_json()
    op = spec["paths"]["/api/v1/ledger/verify"]["get"]
    assert {"200", "202", "401", "403", "429"} <= set(op["responses"])
    assert "Location" in op["responses"]["202"]["headers"]
    assert "Retry-After" in op["responses"]["429"]["headers"]
    assert op["responses"]["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/VerifyJob"}
    job = spec["paths"]["/api/v1/ledger/verify/jobs/{job_id}"]["get"]
    assert {"200", "401", "403", "404"} <= set(job["responses"])
    schema = spec["components"]["schemas"]["VerifyJob"]
    assert schema["properties"]["status"]["enum"] == ["running", "done", "failed"]
