"""Security at the web edge: headers on every response, the session cookie's flags, no
script without the request's nonce, 413 for oversized requests, the sign-in rate limit (a
back-off per username and address and a cap per address, shared by every worker through the
database), sign-in timing that does not tell known usernames from unknown ones, 503 when the
database is unavailable, and no secret or private key in the server's log, its pages or an
exported bundle."""

from __future__ import annotations

import base64
import io
import re
import socket
import zipfile
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ledger.application import open_ledger
from tests.serving import PASSWORD, PW, Served, cli, seed
from tests.web.conftest import CODE, Site, make_app
from web.app import create_app
from web.errors import UNAVAILABLE
from web.ledger_access import close_ledger
from web.security import SECURE_COOKIES_ENV
from web.throttle import Limits, LoginThrottle

NONCE = re.compile(r"script-src 'nonce-([A-Za-z0-9_-]+)'")


def header_problems(response, static: bool = False) -> list[str]:  # noqa: ANN001
    h = response.headers
    csp = h.get("Content-Security-Policy", "")
    wanted = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
              "Referrer-Policy": "same-origin"}
    problems = [f"{k}: {h.get(k)!r}" for k, v in wanted.items() if h.get(k) != v]
    if "frame-ancestors 'none'" not in csp or not NONCE.search(csp):
        problems.append(f"CSP {csp!r}")
    if "'unsafe-inline'" in csp.split("script-src", 1)[1].split(";", 1)[0]:
        problems.append("inline script allowed")
    if static == ("no-store" in h.get("Cache-Control", "")):
        problems.append(f"Cache-Control {h.get('Cache-Control')!r} (static={static})")
    return problems


def api_token(client: FlaskClient, username: str, password: str = "demo") -> dict[str, str]:
    r = client.post("/api/v1/tokens", json={"username": username, "password": password})
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def test_every_kind_of_response_carries_the_security_headers(site: Site) -> None:
    anonymous = site.app.test_client()
    pm = site.as_user("pm")
    token = api_token(anonymous, "auditor")
    answers = {
        "sign-in form": anonymous.get("/signin"),
        "portfolio": pm.get("/"),
        "project page": pm.get(f"/projects/{CODE}"),
        "a form": pm.get(f"/projects/{CODE}/act/expenditure"),
        "404 page": pm.get("/no-such-page"),
        "403 page": pm.get("/audit/"),
        "API answer": anonymous.get("/api/v1/queue", headers=token),
        "API 401": anonymous.get("/api/v1/queue"),
        "OpenAPI": anonymous.get("/api/v1/openapi.json"),
    }
    statuses = {name: r.status_code for name, r in answers.items()}
    assert statuses == {"sign-in form": 200, "portfolio": 200, "project page": 200, "a form": 200,
                        "404 page": 404, "403 page": 403, "API answer": 200, "API 401": 401,
                        "OpenAPI": 200}
    problems = {name: header_problems(r) for name, r in answers.items()}
    assert problems == {name: [] for name in answers}
    static = anonymous.get("/static/app.css")
    assert static.status_code == 200 and header_problems(static, static=True) == []


def test_pages_run_no_script_without_the_requests_nonce(site: Site) -> None:
    pages = {"pm": ["/", f"/projects/{CODE}", f"/projects/{CODE}/act/expenditure"],
             "fiscal": ["/queues/fiscal", "/reports/variance"],
             "auditor": ["/audit/", "/audit/log", f"/audit/projects/{CODE}/as-of"],
             "admin": ["/admin/people", "/admin/people/new"]}
    charts = 0
    for username, paths in pages.items():
        client = site.as_user(username)
        for path in paths:
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code)
            nonce = NONCE.search(r.headers["Content-Security-Policy"]).group(1)
            html = r.get_data(as_text=True)
            charts += html.count("<svg")
            for tag, body in re.findall(r"(<script\b[^>]*>)(.*?)</script>", html, re.S):
                # pygal's chart configuration (inline in the SVG, for a tooltip script that
                # is never loaded) is dropped by web/pages/charts.py: the CSP would refuse it.
                assert f'nonce="{nonce}"' in tag, (path, tag, body[:80])
    assert charts >= 2, "the project page shows its charts"


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def cookie_of(client: FlaskClient) -> str:
        r = client.post("/signin", data={"username": "pm", "password": "demo"})
        assert r.status_code == 302
        return next(v for v in r.headers.getlist("Set-Cookie") if v.startswith("session="))

    plain = cookie_of(site.app.test_client())
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    over_https = site.app.test_client()
    r = over_https.post("/signin", base_url="https://localhost",
                        data={"username": "pm", "password": "demo"})
    https_cookie = next(v for v in r.headers.getlist("Set-Cookie") if v.startswith("session="))
    assert "Secure" in https_cookie and "HttpOnly" in https_cookie and "SameSite=Lax" in https_cookie
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")

    monkeypatch.setenv(SECURE_COOKIES_ENV, "1")
    forced = make_app(site.app.config["LEDGER_DB"], tmp_path)
    try:
        assert "Secure" in cookie_of(forced.test_client())
    finally:
        close_ledger(forced)


def test_behind_a_tls_proxy_that_does_not_say_so_secure_cookies_make_https_this_origin(
        site: Site, tmp_path: Path) -> None:
    """`serve --secure-cookies` is for a TLS proxy that does not forward the scheme: the
    request arrives as http, the browser's Origin is https; both are this site."""
    form = {"username": "pm", "password": "demo"}
    https = {"Origin": "https://localhost"}
    assert site.app.test_client().post("/signin", data=form, headers=https).status_code == 403
    behind_tls = make_app(site.app.config["LEDGER_DB"], tmp_path, SECURE_COOKIES=True)
    try:
        client = behind_tls.test_client()
        assert client.post("/signin", data=form, headers=https).status_code == 302
        assert client.post("/signin", data=form, headers={"Origin": "https://evil.example"}).status_code == 403
    finally:
        close_ledger(behind_tls)


@pytest.fixture
def small_limit_site(site: Site, tmp_path: Path) -> Site:
    app = make_app(site.app.config["LEDGER_DB"], tmp_path, MAX_CONTENT_LENGTH=64 * 1024)
    yield Site(app, app.test_client())
    close_ledger(app)


def test_oversized_requests_are_413_and_write_nothing(small_limit_site: Site) -> None:
    site = small_limit_site
    size = site.size()
    pm = site.as_user("pm")
    big = b"x" * (100 * 1024)
    form = pm.post(f"/projects/{CODE}/act/expenditure", content_type="multipart/form-data", data={
        "line": "HW-01", "amount": "10.00", "vendor": "Acme", "invoice_number": "BIG-1",
        "invoice_date": "2025-03-01", "description": "too big",
        "invoice": (io.BytesIO(big), "invoice.pdf")})
    assert form.status_code == 413 and b"Too large" in form.data and b"nothing was recorded" in form.data
    token = api_token(site.app.test_client(), "pm")
    api = site.client.post(f"/api/v1/projects/{CODE}/expenditures", headers=token, json={
        "line": "HW-01", "amount": "10.00", "vendor": "Acme", "invoice_number": "BIG-2",
        "invoice_date": "2025-03-01", "description": "x" * len(big)})
    assert api.status_code == 413
    assert api.get_json()["code"] == "too-large" and "larger than" in api.get_json()["message"]
    assert site.size() == size


def _failures(client: FlaskClient, n: int, username: str = "pm") -> list[int]:
    return [client.post("/signin", data={"username": username, "password": "wrong"}).status_code
            for _ in range(n)]


def client_at(site: Site, address: str) -> FlaskClient:
    client = site.app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The throttle's time, moved by the test (now[0] += seconds)."""
    from web import throttle

    now = [1_000_000.0]
    monkeypatch.setattr(throttle, "_now", lambda: now[0])
    return now


def test_failures_back_off_for_one_username_from_one_address_and_never_lock_its_owner_out(
        site: Site, clock: list[float]) -> None:
    size = site.size()
    attacker = client_at(site, "10.0.0.9")
    assert _failures(attacker, 3) == [401] * 3, "three free failures"
    waits = []
    for _ in range(12):
        refused = attacker.post("/signin", data={"username": "pm", "password": "demo"})
        assert refused.status_code == 429, "not even the right password during the back-off"
        text = refused.get_data(as_text=True)
        assert "Sign-in refused: too many failed sign-in attempts" in text and 'name="password"' in text
        api = attacker.post("/api/v1/tokens", json={"username": "pm", "password": "demo"})
        assert api.status_code == 429 and api.get_json()["code"] == "too-many-requests"
        assert api.headers["Retry-After"] == refused.headers["Retry-After"]
        waits.append(int(refused.headers["Retry-After"]))
        clock[0] += waits[-1]
        assert _failures(attacker, 1) == [401]
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900], "doubling, at most 15 min"

    owner = client_at(site, "10.0.0.10")
    assert owner.post("/signin", data={"username": "pm", "password": "demo"}).status_code == 302
    assert _failures(client_at(site, "10.0.0.9"), 1, "pm2") == [401], "only that pair waits"
    clock[0] += 24 * 3600
    assert _failures(attacker, 3) == [401] * 3, "forgotten a day after the last failure"
    assert site.size() == size, "failed sign-ins are not ledger facts"


def test_the_count_is_shared_by_workers_and_cleared_by_a_success(
        site: Site, tmp_path: Path, clock: list[float]) -> None:
    other_worker = make_app(site.app.config["LEDGER_DB"], tmp_path)
    try:
        a, b = site.app.test_client(), other_worker.test_client()
        assert _failures(a, 2) + _failures(b, 1) == [401] * 3
        assert _failures(a, 1) == [429], "the other worker's failure counted"
        clock[0] += 1
        assert b.post("/signin", data={"username": "pm", "password": "demo"}).status_code == 302
        assert _failures(b, 3) == [401] * 3, "the success cleared the count"
        assert _failures(a, 1) == [429]
    finally:
        close_ledger(other_worker)


def test_an_office_behind_one_address_is_not_blocked_by_its_typos(site: Site, clock: list[float]) -> None:
    office = client_at(site, "10.0.0.9")
    for i in range(30):  # thirty people mistyping twice each in a few minutes
        assert _failures(office, 2, f"person{i}") == [401, 401]
        clock[0] += 5
    assert office.post("/signin", data={"username": "auditor", "password": "demo"}).status_code == 302


def test_spraying_from_one_address_meets_its_cap(site: Site, clock: list[float]) -> None:
    sprayer = client_at(site, "10.0.0.66")
    for i in range(100):
        assert _failures(sprayer, 1, f"guess{i}") == [401]
        clock[0] += 1
    refused = sprayer.post("/signin", data={"username": "auditor", "password": "demo"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 900 - 100
    assert "from this address" in refused.get_data(as_text=True)
    assert client_at(site, "10.0.0.67").post(
        "/signin", data={"username": "auditor", "password": "demo"}).status_code == 302
    clock[0] += 900 - 100
    assert _failures(sprayer, 1, "guess-again") == [401], "the oldest failures left the window"


def test_behind_a_loopback_proxy_each_client_counts_by_its_forwarded_address(
        site: Site, clock: list[float]) -> None:
    def attempt(peer: str, forwarded: str, password: str = "wrong") -> int:
        return client_at(site, peer).post(
            "/signin", data={"username": "pm", "password": password},
            headers={"X-Forwarded-For": forwarded}).status_code

    assert [attempt("127.0.0.1", "198.51.100.7") for _ in range(4)] == [401] * 3 + [429]
    assert attempt("127.0.0.1", "203.0.113.5, 198.51.100.8", "demo") == 302
    # A peer that is no loopback proxy cannot choose its address by the header.
    assert [attempt("192.0.2.1", f"198.51.100.{i}") for i in range(4)] == [401] * 3 + [429]


def test_the_throttle_rules(site: Site) -> None:
    from web.ledger_access import get_pmo

    assert Limits() == Limits(free_failures=3, backoff=1, max_backoff=900, memory=86400,
                              per_address=100, address_window=900), "the README states these"
    guard = LoginThrottle(get_pmo(site.app), Limits(free_failures=2, backoff=10, max_backoff=60,
                                                    memory=3600, per_address=4, address_window=100))
    guard.ensure_table()
    guard.failed("Ann", "10.1.1.1", now=1000.0)
    assert guard.wait("ann ", "10.1.1.1", now=1000.0) == 0
    guard.failed("ann ", "10.1.1.1", now=1010.0)
    assert guard.wait("ANN", "10.1.1.1", now=1010.0) == 10  # the username, case and spaces aside
    assert guard.wait("ann", "10.1.1.2", now=1010.0) == 0, "another address: no wait"
    guard.failed("ann", "10.1.1.1", now=1020.0)
    assert guard.wait("ann", "10.1.1.1", now=1025.0) == 15  # 20 s after the third failure
    guard.failed("ann", "10.1.1.1", now=1040.0)
    guard.failed("ann", "10.1.1.1", now=1080.0)
    assert guard.wait("ann", "10.1.1.1", now=1080.0) == 60  # 80 capped at 60
    assert guard.wait("ann", "10.1.1.1", now=1080.0 + 3600) == 0, "forgotten after `memory`"
    # The address's cap: failures for any username count towards it, within its window.
    assert guard.wait("bob", "10.1.1.1", now=1085.0) == 25  # until the one at 1010 is 100 s old
    assert guard.wait("bob", "10.1.1.1", now=1110.0) == 0
    assert guard.wait("ann", "10.1.1.1", now=1120.0) == 20
    guard.succeeded("ann", "10.1.1.1")
    assert guard.wait("ann", "10.1.1.1", now=1120.0) == 0, "a success clears its pair"
    assert guard.wait("bob", "10.1.1.1", now=1085.0) == 25, "but not the address's count"
    # IPv6 clients count by their /64.
    for i in range(4):
        guard.failed(f"u{i}", f"2001:db8:1:2::{i + 1}", now=2000.0)
    assert guard.wait("v", "2001:db8:1:2:ffff::9", now=2001.0) == 99
    assert guard.wait("v", "2001:db8:1:3::1", now=2001.0) == 0


# Sign-in timing (issue 17 item 6) ------------------------------------------------------------


def _attempt(site: Site, username: str, address: str, api: bool = False) -> int:
    client = client_at(site, address)
    if api:
        return client.post("/api/v1/tokens", json={"username": username, "password": "wrong"}).status_code
    return client.post("/signin", data={"username": username, "password": "wrong"}).status_code


def test_an_unknown_username_costs_one_password_check_like_a_known_one(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    import werkzeug.security

    checked: list[str] = []
    real = werkzeug.security.check_password_hash

    def spy(pwhash: str, password: str) -> bool:
        checked.append(pwhash.split("$", 1)[0])
        return real(pwhash, password)

    monkeypatch.setattr(werkzeug.security, "check_password_hash", spy)
    method = site.pmo.password_method
    for i, (username, api) in enumerate([("pm", False), ("nobody", False), ("pm", True),
                                         ("nobody", True), ("NoSuchUser", False)]):
        checked.clear()
        assert _attempt(site, username, f"10.9.0.{i}", api) == 401
        assert checked == [method], (username, api, checked)


def test_sign_in_costs_the_same_key_derivation_for_an_unknown_username_as_for_a_known_one(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The time a refusal takes is the password hashing's: counted here as the key
    derivation work each attempt asks for (a stopwatch on a shared machine measures the
    machine), with a real work factor."""
    import hashlib

    pmo = site.pmo
    pmo.password_method = "pbkdf2:sha256:150000"
    pmo.set_password("pm", "demo")
    derived: list[tuple[str, int]] = []
    real = hashlib.pbkdf2_hmac

    def counting(name: str, password: bytes, salt: bytes, iterations: int, *args: object) -> bytes:
        derived.append((name, iterations))
        return real(name, password, salt, iterations, *args)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    # The first unknown username of a process and method also makes the dummy hash, once.
    assert _attempt(site, "warm-up", "10.8.0.1") == 401
    work = {}
    for i, username in enumerate(["pm", "nobody-here", "pm", "NoSuchUser"]):
        derived.clear()
        assert _attempt(site, username, f"10.8.1.{i}") == 401
        work[username] = list(derived)
    assert work["pm"] == [("sha256", 150000)], work
    assert work["nobody-here"] == work["NoSuchUser"] == work["pm"], work


@pytest.mark.parametrize("failure", ["library", "psycopg", "ledger", "read-models"])
def test_an_unavailable_database_is_a_503_with_retry_after(
        site: Site, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    import psycopg
    from eventsourcing.persistence import OperationalError

    from domain.cache import AggregateCache
    from domain.readmodels.store import ReadModelError
    from domain.services import PMOApplication
    from ledger.errors import BackendUnavailableError

    # Regression (tests/test_faults.py): a read-model error raised while the connection was
    # lost came out as a 409 "read-models"; the lost connection is what matters.
    wrapped = ReadModelError("position 9 does not apply to its project's history")
    wrapped.__cause__ = OperationalError("couldn't get a connection after 1.00 sec")
    error = {"library": OperationalError("server closed the connection unexpectedly"),
             "psycopg": psycopg.OperationalError("connection refused"),
             "ledger": BackendUnavailableError("cannot reach postgresql://db: refused"),
             "read-models": wrapped}[failure]
    pm = site.as_user("pm")
    token = api_token(site.app.test_client(), "pm")

    def down(*_: object, **__: object) -> None:
        raise error

    # Every read of the directory fails: a fresh load, and bringing a cached copy forward.
    monkeypatch.setattr(PMOApplication, "directory", down)
    monkeypatch.setattr(AggregateCache, "bring_forward", down)
    page = pm.get("/")
    api = site.client.get(f"/api/v1/projects/{CODE}", headers=token)
    assert page.status_code == 503 and page.headers["Retry-After"].isdigit()
    assert UNAVAILABLE.split(";")[0] in page.get_data(as_text=True)
    assert api.status_code == 503 and api.headers["Retry-After"].isdigit()
    assert api.get_json() == {"code": "backend-unavailable", "message": UNAVAILABLE, "errors": {}}


# The real server ---------------------------------------------------------------------------


def _raw(server: Served, head: str) -> str:
    """Send a request head only (its announced body never follows); the status line back."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(head.encode())
        return s.makefile("rb").readline().decode()


def _collect_pages(server: Served) -> dict[str, str]:
    server.cookies.clear()
    server.sign_in("admin")
    pages: dict[str, str] = {}
    for path in ("/", "/admin/people", "/admin/people/new", "/admin/people/pm/reissue-key"):
        pages[path] = server.request("GET", path, cookies=True).text
    reissued = server.post_form("/admin/people/pm/reissue-key", {"reason": "rotation"})
    enrolled = server.post_form("/admin/people/new", {
        "username": "newbie", "name": "New Person", "email": "", "password": "newbie-password"})
    assert (reissued.status, enrolled.status) == (302, 302), (reissued.text[:300], enrolled.text[:300])
    pages["/admin/people (after)"] = server.request("GET", "/admin/people", cookies=True).text
    server.cookies.clear()
    server.sign_in("auditor")
    for path in ("/audit/", "/audit/log", "/audit/events/1", "/audit/events/2", "/audit/events/3"):
        pages[path] = server.request("GET", path, cookies=True).text
    token = server.token("auditor")
    pages["/api/v1/ledger/events"] = server.request("GET", "/api/v1/ledger/events?limit=500",
                                                    headers=token).text
    return pages


def _secrets(url: str, instance: Path) -> dict[str, str]:
    app = open_ledger(url)
    try:
        hashes = [h for (h,) in app.recorder.fetch("SELECT password_hash FROM pmo_credentials")]
        keys = [bytes(k) for (k,) in app.recorder.fetch("SELECT pkcs8 FROM ledger_private_keys")]
    finally:
        app.close()
    found = {"passphrase": PW, "password": PASSWORD, "new password": "newbie-password",
             "PEM marker": "PRIVATE KEY", "PEM begin": "-----BEGIN",
             "session secret": (instance / "secret_key").read_text().strip()}
    for i, h in enumerate(hashes):
        found[f"password hash {i}"] = h
        found[f"password hash digest {i}"] = h.rsplit("$", 1)[-1]
    for i, k in enumerate(keys):
        found[f"pkcs8 {i} hex"] = k.hex()[16:80]
        found[f"pkcs8 {i} base64"] = base64.b64encode(k).decode()[12:60]
    assert len(hashes) >= 8 and len(keys) >= 9
    return found


def test_the_real_server_headers_cookies_413_429_and_no_secrets_anywhere(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    seed(url)
    with Served.launch(url, tmp_path) as server:
        signin = server.request("GET", "/signin")
        assert header_problems(signin) == []
        proxied = server.request("GET", "/signin", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in proxied.headers["Set-Cookie"], "https at a trusted loopback proxy"
        assert "Secure" not in signin.headers["Set-Cookie"] and "HttpOnly" in signin.headers["Set-Cookie"]

        too_big = 40 * 1024 * 1024
        assert " 413 " in _raw(server, f"POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                       f"application/json\r\nContent-Length: {too_big}\r\n\r\n")
        assert " 413 " in _raw(server, f"POST /signin HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                       f"application/x-www-form-urlencoded\r\nContent-Length: {too_big}\r\n\r\n")

        wrong = [server.request("POST", "/api/v1/tokens", json_body={
            "username": "sponsor", "password": f"guess-{i}"}).status for i in range(6)]
        # Three free failures, then a back-off of 1 s, 2 s, 4 s: counted in the database,
        # whichever worker answers.
        assert wrong[:3] == [401] * 3 and 429 in wrong[3:], wrong

        secret_query = "tok-" + "q" * 40
        server.request("GET", f"/signin?next=/&token={secret_query}")
        server.request("POST", "/signin", data=f"username=pm&password={PASSWORD}x".encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        pages = _collect_pages(server)
    log = server.log()
    assert "/signin" in log and secret_query not in log, "access log without query strings"

    bundle = tmp_path / "bundle.zip"
    exported = cli("export", str(bundle), "--db", url)
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(bundle) as z:
        members = {name: z.read(name).decode("utf-8", "replace") for name in z.namelist()}

    instance = Path(create_app({"LEDGER_DB": url}).instance_path)  # serve's session secret is here
    secrets = _secrets(url, instance)
    places = {"server log": log, "export output": exported.stdout + exported.stderr,
              **{f"page {p}": t for p, t in pages.items()},
              **{f"bundle {n}": t for n, t in members.items()}}
    leaks = [(what, where) for what, secret in secrets.items() for where, text in places.items()
             if secret in text]
    assert leaks == []
    assert len(pages) >= 10 and members and "pm" in pages["/admin/people"]

