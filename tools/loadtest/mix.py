"""The locust users of the load test: people using the demo portfolio at once.

Per 100 tasks: 70 reads (the portfolio page, project pages, the reader's review queue, a
project's budget and state over the API), 19 submissions by project managers over the API
(expenditures, risks, status reports, issues) and 11 approvals by fiscal officers of the
expenditures submitted in this run; besides them, 5 fetches of a static file as the
baseline. Every virtual user signs in through the form (a session, for the pages) and
uses the bearer tokens the driver issued (for the API).

Expected business refusals are designed out: amounts are a few dollars against the line
with the most money left, invoice numbers are unique, and each expenditure is approved
once, by one fiscal officer, after its submission was acknowledged.

Every write carries an `Idempotency-Key` and, in a field its event keeps, a marker unique to
it (the invoice number, a tag in a title or summary; an approval is marked by its item). A
write that got no answer, a 503, or 409 `idempotency-key-in-use` is sent again with the same
key and body after a pause (RETRY_PAUSES), as a careful client would; so a write answered
only after a fault is acknowledged once, and the audit can tell that a write answered with
an error was not recorded and that no write was recorded twice.

Imported only by `runner.py` (locust patches the process with gevent on import).
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from locust import FastHttpUser, task

PLAN: dict[str, Any] = {}
PENDING: deque[tuple[str, str]] = deque()  # (project, expenditure) awaiting approval
ACKNOWLEDGED: list[dict[str, Any]] = []  # every 2xx write: kind, project, id, status, position
ANSWERED_ERROR: list[dict[str, Any]] = []  # writes whose last answer was an error: never recorded
UNANSWERED: list[dict[str, Any]] = []  # writes never answered, even when sent again
# Writes sent and not yet settled in one of the lists above. One still here when the run
# ends was cut short (its user stopped, or its answer broke off mid-body): it may have been
# recorded, so it counts as unanswered.
IN_FLIGHT: dict[str, dict[str, Any]] = {}
COUNTS = {"retries": 0, "replayed": 0}
# Seconds before each repeat of a write: each under gunicorn's keep-alive (2 s), so the
# repeat does not meet its connection closed by the server meanwhile (no answer, again).
RETRY_PAUSES = (0.25, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
BACKOFF_SECONDS = 0.25
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# The payload key naming the item of each kind of write (web/api/projects.py `submitted`).
ITEM_KEYS = {"expenditure": "expenditure_id", "risk": "risk_id", "status report": "report_id",
             "issue": "issue_id", "approval": "expenditure_id"}
# The field of each kind's event that carries the write's marker, and the event's topic.
MARKERS = {"expenditure": "invoice_number", "risk": "title", "status report": "summary",
           "issue": "title", "approval": "expenditure_id"}
TOPICS = {"expenditure": "ExpenditureSubmitted", "risk": "RiskRaised",
          "status report": "StatusReportPublished", "issue": "IssueRaised",
          "approval": "ExpenditureApproved"}


def configure(plan: dict[str, Any]) -> None:
    PLAN.clear()
    PLAN.update(plan)


class Office(FastHttpUser):
    """One person at a desk: signed in to the pages, holding API tokens."""

    network_timeout = 60.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.rng = random.Random()
        self.last_status = 200
        self.signed_in = False
        index = PLAN["next_user"] = PLAN.get("next_user", -1) + 1
        self.reader, self.queue = PLAN["readers"][index % len(PLAN["readers"])]
        self.sign_in()

    def wait_time(self) -> float:
        """The configured think time; after no answer or a 503, a pause, as a client would."""
        low, high = PLAN.get("think_seconds", (0, 0))
        pause = BACKOFF_SECONDS if self.last_status in (0, 503) else 0
        return pause + self.rng.uniform(low, high)

    def call(self, method: str, path: str, name: str, **kwargs: Any) -> Any:
        """One request, never following a redirect (a page answering 302 is an error)."""
        r = self.client.request(method, path, name=name, allow_redirects=False, **kwargs)
        self.last_status = r.status_code or 0
        return r

    def sign_in(self) -> None:
        page = self.call("GET", "/signin", "setup /signin")
        found = CSRF.search(page.text or "") if page.status_code == 200 else None
        if not found:
            return  # counted as failed; the next page read tries again
        form = {"csrf_token": found.group(1), "username": self.reader, "password": PLAN["password"]}
        r = self.call("POST", "/signin", "setup sign-in", data=urlencode(form),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.signed_in = r.status_code == 302

    def page(self, path: str, name: str) -> None:
        if not self.signed_in:
            self.sign_in()
        if self.signed_in:
            self.call("GET", path, name)

    def project(self) -> dict[str, str]:
        return self.rng.choice(PLAN["projects"])

    def token(self, *people: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {PLAN['tokens'][self.rng.choice(people)]}"}

    # Reads (70) -----------------------------------------------------------------------------

    @task(15)
    def portfolio_page(self) -> None:
        self.page("/", "read /")

    @task(25)
    def project_page(self) -> None:
        self.page(f"/projects/{self.project()['code']}", "read /projects/[code]")

    @task(15)
    def queue_page(self) -> None:
        self.page(f"/queues/{self.queue}", "read /queues/[role]")

    @task(10)
    def budget_api(self) -> None:
        self.call("GET", f"/api/v1/projects/{self.project()['code']}/budget",
                  "read /api/v1/projects/[code]/budget", headers=self.token("pm", "pm2"))

    @task(5)
    def project_api(self) -> None:
        self.call("GET", f"/api/v1/projects/{self.project()['code']}",
                  "read /api/v1/projects/[code]", headers=self.token("pm", "pm2"))

    # Submissions (19) -------------------------------------------------------------------------

    @task(13)
    def expenditure(self) -> None:
        p = self.project()
        cents = self.rng.randint(100, 2500)
        self.write("expenditure", p["code"], "expenditures", {
            "line": p["line"], "amount": f"{cents // 100}.{cents % 100:02d}",
            "vendor": "Loadtest Supplies", "invoice_number": f"LT-{self.rng.getrandbits(64):016x}",
            "invoice_date": _days_ago(7), "description": "load test invoice"})

    @task(3)
    def risk(self) -> None:
        self.write("risk", self.project()["code"], "risks", {
            "title": f"Vendor staffing under load {self.tag()}", "probability": self.rng.randint(1, 5),
            "impact": self.rng.randint(1, 5), "owner": "Maria Gonzalez",
            "mitigation": "Weekly check-in with the vendor"})

    @task(2)
    def status_report(self) -> None:
        self.write("status report", self.project()["code"], "status-reports", {
            "period_start": _days_ago(14), "period_end": _days_ago(7), "overall": "green",
            "schedule": "amber", "budget": "green", "scope": "green",
            "summary": f"On track; load test week {self.tag()}"})

    @task(1)
    def issue(self) -> None:
        self.write("issue", self.project()["code"], "issues", {
            "title": f"Test environment slow {self.tag()}", "description": "Raised by the load test",
            "severity": self.rng.choice(["low", "medium"]), "owner": "David Chen"})

    def tag(self) -> str:
        return f"#{self.rng.getrandbits(64):016x}"

    def write(self, kind: str, code: str, path: str, body: dict[str, Any]) -> None:
        r = self.send(kind, code, f"/api/v1/projects/{code}/{path}", f"submit {kind}", body,
                      self.token("pm", "pm2"), body[MARKERS[kind]])
        if r is not None and kind == "expenditure":
            PENDING.append((code, r["id"]))

    def send(self, kind: str, code: str, path: str, name: str, body: dict[str, Any],
             headers: dict[str, str], marker: str) -> dict[str, Any] | None:
        """POST one write with its own Idempotency-Key, again while the answer says to;
        then note what became of it. The acknowledged answer, or None."""
        key = uuid.uuid4().hex
        write = {"kind": kind, "key": ITEM_KEYS[kind], "project": code,
                 "marker": {MARKERS[kind]: marker}, "topic": TOPICS[kind], "attempts": 0,
                 "status": 0, "at": time.time()}
        IN_FLIGHT[key] = write
        answer = self._settle(path, name, body, {**headers, "Idempotency-Key": key}, write)
        del IN_FLIGHT[key]
        return answer

    def _settle(self, path: str, name: str, body: dict[str, Any], headers: dict[str, str],
                write: dict[str, Any]) -> dict[str, Any] | None:
        for pause in (*RETRY_PAUSES, None):
            write["attempts"] += 1
            r = self.call("POST", path, name, json=body, headers=headers)
            if pause is None or not _ask_again(r):
                break
            COUNTS["retries"] += 1
            time.sleep(pause)  # gevent's, under locust
        write.update(status=r.status_code or 0, at=time.time())
        if not 200 <= r.status_code < 300:
            # Still "in use" after every retry: the first attempt is still being answered
            # (its save may yet commit), so the outcome is unknown, as with no answer.
            unknown = not r.status_code or _in_use(r)
            (UNANSWERED if unknown else ANSWERED_ERROR).append(write)
            return None
        answer = r.json()
        replayed = r.headers.get("Idempotent-Replayed") == "true"
        COUNTS["replayed"] += replayed
        ACKNOWLEDGED.append({**write, "id": answer["id"], "status": answer["status"],
                             "position": answer["position"], "replayed": replayed})
        return answer

    # Approvals (11) ---------------------------------------------------------------------------

    @task(11)
    def approve(self) -> None:
        if not PENDING:  # nothing submitted yet: the fiscal officer looks at the queue
            self.call("GET", "/api/v1/queue", "read /api/v1/queue",
                      headers=self.token("fiscal", "fiscal2"))
            return
        code, item = PENDING.popleft()
        self.send("approval", code, f"/api/v1/projects/{code}/expenditures/{item}/approve",
                  "approve expenditure", {"reason": "checked against the invoice"},
                  self.token("fiscal", "fiscal2"), item)

    # Baseline (5, outside the 70/30 mix) ------------------------------------------------------

    @task(5)
    def static_file(self) -> None:
        self.call("GET", "/static/app.css", "baseline /static/app.css")


def _ask_again(r: Any) -> bool:
    """No answer, the database unavailable, or the key's first request still answering."""
    if r.status_code in (0, 503):
        return r.status_code == 0 or b"ledger-fault" not in (r.content or b"")
    return _in_use(r)


def _in_use(r: Any) -> bool:
    return r.status_code == 409 and b"idempotency-key-in-use" in (r.content or b"")


def _days_ago(days: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days)).isoformat()
