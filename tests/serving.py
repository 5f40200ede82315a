"""Helpers for tests that run `pmo-ledger serve` as a real server on loopback.

    ledger = seed(url)                          # a small ledger: the cast, one project
    with Served.launch(url, tmp_path) as server: # gunicorn, 2 workers, a free port
        server.get("/signin")
    with TcpProxy(5432) as proxy:               # a loopback hop to PostgreSQL we can cut
        proxy.cut(); proxy.restore()
"""

from __future__ import annotations

import json
import os
import re
import selectors
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from domain.services import PMOApplication
from ledger.application import init_ledger
from tests.domain.helpers import FAST_HASH, enrol_cast
from tools.loadtest.server import Server, free_port

PW = "serve-tests-passphrase-not-secret"
PASSWORD = "serve-tests-password"
CODES = ("IT-2026-501", "IT-2026-502")
REPO = Path(__file__).resolve().parent.parent


def seed(url: str, *, passphrase: str = PW, password: str = PASSWORD,
         codes: tuple[str, ...] = CODES, people: Any = None, amount: str = "900000.00") -> None:
    """The test cast (or `people`; passwords `password`, fast hashes) and chartered
    projects `codes`, each with one budget line of `amount`."""
    app, root = init_ledger(url, passphrase, app_class=PMOApplication)
    try:
        app.password_method = FAST_HASH
        cast = {} if people is None else {"people": people}
        enrol_cast(app, root, passphrase=passphrase, password=password, reason="serve tests", **cast)
        pm = app.actor("pm", passphrase)
        for code in codes:
            app.charter_project(
                pm, code=code, title=f"Project {code}", sponsor="Sam Sponsor",
                project_manager="Pat Manager", business_relationship_manager="Bea Relations",
                objectives=["Serve"], scope_statement="Serving tests", start_date=date(2026, 1, 1),
                target_finish=date(2026, 12, 31), fund="General Fund", cost_centre="CC-1",
                funding_type="capital")
            app.add_budget_line(pm, code, line="HW-01", name="Servers", category="hardware",
                                amount=amount)
    finally:
        app.close()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Return once `condition()` holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `pmo-ledger ARGS` in a subprocess (output captured as text), as `python -m tools`:
    the tooling's commands (loadtest, demo) too, whatever entry points are installed."""
    return subprocess.run(
        [sys.executable, "-m", "tools", *args], cwd=REPO,
        env={**os.environ, "PMO_LEDGER_PASSPHRASE": PW, **(env or {})}, capture_output=True,
        text=True, timeout=timeout, check=False)


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Served(Server):
    """`pmo-ledger serve` on a free loopback port (the load driver's `Server`: started,
    waited for, stopped or killed the same way), with an HTTP client for the tests. Its
    log (stdout and stderr) goes to `log_path`, in the test's folder."""

    def __init__(self, url: str, folder: Path, *, workers: int = 2, threads: int = 4,
                 env: dict[str, str] | None = None) -> None:
        port = free_port()
        super().__init__(url, port, workers=workers, threads=threads,
                         log_path=folder / f"serve-{port}.log",
                         env={"PMO_LEDGER_PASSPHRASE": PW, **(env or {})})
        self.cookies: dict[str, str] = {}

    @classmethod
    def launch(cls, url: str, folder: Path, *, ready_timeout: float = 40, **kwargs: Any) -> Served:
        """Start it and wait until every worker answers."""
        server = cls(url, folder, **kwargs)
        server.start(ready_timeout)
        return server

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop(30)

    def request(self, method: str, path: str, *, json_body: Any = None, data: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 30,
                cookies: bool = False) -> Reply:
        """One HTTP request (a new connection); any status is returned, never raised."""
        sent = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        if cookies and self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=sent)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=timeout) as r:
                reply = Reply(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            reply = Reply(e.code, e.headers, e.read())
        if cookies:
            for value in reply.headers.get_all("Set-Cookie") or ():
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return reply

    def csrf(self, path: str = "/signin") -> str:
        """The CSRF token of the form at `path` (keeps the session cookie it comes with)."""
        page = self.request("GET", path, cookies=True)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, page.text[:500]
        return found.group(1)

    def post_form(self, path: str, fields: dict[str, str], csrf_from: str | None = None) -> Reply:
        data = {"csrf_token": self.csrf(csrf_from or path), **fields}
        return self.request("POST", path, data=urllib.parse.urlencode(data).encode(), cookies=True,
                            headers={"Content-Type": "application/x-www-form-urlencoded",
                                     "Referer": self.base + path})

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        """Sign in through the form; the session cookie is kept for `cookies=True` requests."""
        r = self.post_form("/signin", {"username": username, "password": password})
        assert r.status == 302, (r.status, r.text[:500])

    def token(self, username: str) -> dict[str, str]:
        r = self.request("POST", "/api/v1/tokens", json_body={"username": username, "password": PASSWORD})
        assert r.status == 201, (r.status, r.text)
        return {"Authorization": f"Bearer {r.json()['token']}"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_: Any, **__: Any) -> None:  # a 302 is an answer to check
        return None


class TcpProxy:
    """A loopback TCP hop to 127.0.0.1:`target` whose connections a test can cut.

    `cut()` closes the listener and every connection through it (a database that went
    away: new connections are refused, open ones see EOF); `restore()` listens on the same
    port again (the database is back)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> TcpProxy:
        self.restore()
        return self

    def __exit__(self, *_: object) -> None:
        self.cut()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, args=(listener, self._stopped), daemon=True)
        self._thread.start()

    def cut(self) -> None:
        self._stopped.set()
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            for conn in self._conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()
            self._conns.clear()
        if self._thread is not None:
            self._thread.join(5)

    def _accept(self, listener: socket.socket, stopped: threading.Event) -> None:
        listener.settimeout(0.1)
        while not stopped.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if stopped.is_set():
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()


def _pump(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sel = selectors.DefaultSelector()
    a.setblocking(False)
    b.setblocking(False)
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            for key, _ in sel.select(timeout=1):
                try:
                    chunk = key.fileobj.recv(65536)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                if not chunk:
                    return
                key.data.setblocking(True)
                key.data.sendall(chunk)
                key.data.setblocking(False)
    except (OSError, ValueError):
        return
    finally:
        sel.close()
        for s in (a, b):
            try:
                s.close()
            except OSError:
                pass
