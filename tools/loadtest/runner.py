"""Run the locust users of `mix.py` headless for a fixed time; write what happened as JSON.

    python -m tools.loadtest.runner PLAN.json OUT.json

PLAN (written by driver.py): host, users, seconds, password, readers, tokens, projects,
think_seconds. OUT: the exact figures per category and request (stats.py), every
acknowledged write (kind, project, id, status, log position, marker), the writes whose last
answer was an error and those never answered (mix.py sends a write again with its
Idempotency-Key while it gets no answer or a 503), how many repeats were sent and answered
from a kept key, and a sample of failures with the second of the run they happened in.

Its own process: importing locust patches the interpreter with gevent.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment

from tools.loadtest import mix
from tools.loadtest.stats import Book, is_ok

FAILURE_SAMPLES = 300
ERROR_PAGE = re.compile(r'<p class="error" data-code="([^"]*)">([^<]*)<')
STOP_TIMEOUT = 30  # seconds a user may take to finish its request when the time is up


def run(plan: dict[str, Any]) -> dict[str, Any]:
    mix.configure(plan)
    env = Environment(user_classes=[mix.Office], host=plan["host"], stop_timeout=STOP_TIMEOUT)
    book = Book()
    failures: list[dict[str, Any]] = []
    started = time.time()

    def on_request(request_type: str, name: str, response_time: float, response_length: int,
                   response: Any = None, exception: Any = None, **_: Any) -> None:
        status = int(getattr(response, "status_code", 0) or 0)
        if exception is not None and is_ok(status, name):
            status = 0  # a 2xx whose body could not be read is no answer
        book.add(name, response_time, status)
        if not is_ok(status, name):
            failures.append({"t": round(time.time() - started, 2), "name": name, "status": status,
                             "detail": _detail(response, exception)})

    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    runner.start(plan["users"], spawn_rate=plan["users"])
    gevent.spawn_later(plan["seconds"], runner.quit)
    runner.greenlet.join()
    seconds = time.time() - started
    return {
        "users": plan["users"], "seconds": round(seconds, 2), "started_at": started,
        **book.summary(seconds),
        "failures": len(failures), "failure_samples": failures[:FAILURE_SAMPLES],
        "failure_times": [(f["t"], f["status"]) for f in failures],
        "acknowledged": mix.ACKNOWLEDGED, "answered_error": mix.ANSWERED_ERROR,
        "unanswered": [*mix.UNANSWERED, *mix.IN_FLIGHT.values()], **mix.COUNTS, "left_pending": len(mix.PENDING),
    }


def _detail(response: Any, exception: Any) -> str:
    """The answer's gist: an error page's code and message, else the body's start."""
    try:
        text = (response.text or "") if response is not None else ""
    except Exception:  # noqa: BLE001 - a broken body is itself the detail
        text = ""
    page = ERROR_PAGE.search(text)
    gist = f"page {page.group(1)}: {page.group(2)}" if page else text[:300] or repr(exception)[:300]
    return gist + (" [Traceback in the body]" if "Traceback" in text else "")


def main() -> None:
    plan_path, out_path = sys.argv[1:3]
    result = run(json.loads(Path(plan_path).read_text()))
    Path(out_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
