"""The seeded demo portfolio (11,000+ signed events): every page loads well under a
second. Figures (median of three warm loads) go to test-artifacts/page-timings.json."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from domain.readmodels import ReadModels
from domain.services import PMOApplication
from ledger.application import open_ledger
from ledger.keys import PASSPHRASE_ENV
from tests.conftest import DEMO_PASSWORD, DEMO_PW, copy_demo
from tests.web.conftest import make_app
from web.ledger_access import close_ledger

pytestmark = pytest.mark.slow
PW = DEMO_PW
LIMIT = 1.0  # seconds; the figures are reported, and are far below it
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def demo_app(demo_template: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    mp = pytest.MonkeyPatch()
    mp.setenv(PASSPHRASE_ENV, PW)
    folder = tmp_path_factory.mktemp("demo-web")
    url = copy_demo(demo_template, folder)
    pmo = open_ledger(url, app_class=PMOApplication)
    ReadModels(pmo).catch_up()
    ReadModels(pmo).catch_up_compliance()
    pmo.close()
    app = make_app(url, folder)
    try:
        yield app
    finally:
        close_ledger(app)
        mp.undo()


def _signed_in(app, username):
    client = app.test_client()
    assert client.post("/signin", data={"username": username, "password": DEMO_PASSWORD}).status_code == 302
    return client


def test_demo_pages_load_well_under_a_second(demo_app):
    from web.ledger_access import get_read_models

    models = get_read_models(demo_app)
    codes = [f.project for f in models.facts()]
    busiest = max(models.facts(), key=lambda f: f.version).project
    pages = {
        "pm": ["/", f"/projects/{busiest}", f"/projects/{codes[0]}", f"/projects/{busiest}/act/expenditure", "/projects/new"],
        "fiscal": ["/queues/fiscal", "/reports/variance", "/reports/variance?format=csv", "/reports/budget",
                   "/reports/budget?format=csv"],
        "sponsor": ["/queues/sponsor"],
        "pmo": ["/queues/pmo"],
        "auditor": ["/audit/", "/audit/log", f"/audit/log?project={busiest}&event=Expenditure",
                    "/audit/events/5000", "/audit/findings", f"/audit/projects/{busiest}/as-of?date=2026-03-01",
                    f"/audit/projects/{busiest}/as-of?position=6000", f"/audit/projects/{busiest}/history",
                    f"/audit/projects/{busiest}/history?field=lines", "/audit/verify"],
    }
    figures, slow = {}, []
    for username, urls in pages.items():
        client = _signed_in(demo_app, username)
        for url in urls:
            times = []
            for _ in range(3):
                started = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, (url, response.status_code)
            figures[url] = round(statistics.median(times) * 1000, 1)
            if statistics.median(times) >= LIMIT:
                slow.append(f"{url}: {figures[url]} ms")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "page-timings.json").write_text(json.dumps(
        {"events": models.app.size(), "milliseconds (median of 3 warm loads)": figures}, indent=2))
    assert not slow, slow
