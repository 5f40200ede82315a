"""Writes answered once: the `Idempotency-Key` of API writes and form posts, and the success
answer of a write whose event was committed, whatever fails after the commit (issue 17
item 5).

    install(app)     # in create_app, after the API (its OpenAPI document gets the header)

Why: a client that got no answer (a worker killed, a connection reset, a timeout) cannot
tell whether its write was recorded. Sent again without a key, it may be recorded twice, or
refused as a duplicate although it succeeded. With a key, the repeat gets the first answer.

The rules:

- Every write that may record events -- POST, PUT, PATCH and DELETE under /api/v1 (but the
  token endpoints, which record nothing) and the pages' form posts -- may carry a key: the
  `Idempotency-Key` header (1 to 200 visible ASCII characters; anything else is 422
  `validation`), or in a form the hidden `idempotency_key` field every rendered form gets.
- A key is its person's own (the bearer token's, or the session's) and is kept for 24 hours
  (KEEP_SECONDS) in a side table of the ledger's database, `pmo_idempotency_keys`, which
  every gunicorn worker sees. Not in the log: nobody signs a retry.
- The same key with the same request (method, path and query, and body: JSON compared as
  data, a form by its fields and its files' SHA-256, less its CSRF token) gets the first
  answer again -- status, body, Location -- marked `Idempotent-Replayed: true`, and nothing
  is written. The same key with another request is 422 `idempotency-key-reused`.
- While the first request is still being answered, a repeat is 409
  `idempotency-key-in-use` with Retry-After.
- A key is spent only by a write that was recorded (answered 2xx or 3xx, or an event
  committed): a refused or failed request wrote nothing and may be sent again with its key.

Committed means answered as committed. A write request is watched (`watch`: the process's
ledger application reports each save to its append observer): before the write
transaction the events about to be written are noted on the key's row, and after the commit
on the request. If anything fails after a commit -- reading the receipt, rendering, an
after-request hook, the pool closed under the request at a worker's exit, the database
gone -- the answer is the success anyway: under /api/v1 the operation's documented success
status with `{id, status: "recorded", position}` (the item from the URL or the event; the
event's position, null if it could not be read), for a form a redirect to the page the form
leads back to. A save that failed at its commit (the connection lost then) is looked up in
the log before the error is answered.

A key whose first request never answered stays pending. A repeat looks at the process that
took it (host, pid and start time): while it runs, 409 `idempotency-key-in-use`; once it is
gone (a killed worker), the events it was about to write tell what happened: in the log,
the repeat is answered with their receipt (and that answer kept); not in the log, nothing
was written and the repeat is decided afresh. A pending key older than STALE_SECONDS is
treated so whoever holds it. A process whose database failed while it finished a key (the
answer not stored, the key not released) finishes it on its next request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from flask import Flask, Response, current_app, flash, g, has_app_context, jsonify, request, url_for

from ledger.errors import LedgerError

log = logging.getLogger(__name__)

TABLE = "pmo_idempotency_keys"
HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"
REPLAYED = "Idempotent-Replayed"
KEEP_SECONDS = 24 * 3600
STALE_SECONDS = 600.0  # a pending key this old is abandoned, whoever holds it
RETRY_AFTER = 1
MAX_KEY = 200
_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY}}}")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/api/v1/"
# Writes that record nothing in the log: signing in and out, issuing and revoking tokens,
# starting a verification run (web/app.py STILL_ALLOWED names the same).
NOT_KEYED = frozenset({"auth.sign_in", "auth.sign_out", "api_tokens.issue_token",
                       "api_tokens.revoke_token", "tokens.revoke", "audit.verify"})
# Where an event names the item a receipt is about, in the order looked for.
ITEM_KEYS = ("expenditure_id", "po_number", "transfer_id", "cr_id", "risk_id", "issue_id",
             "report_id", "line", "milestone", "deliverable", "gate", "code")
PENDING, DONE = "pending", "done"
KEPT_HEADERS = ("Content-Type", "Location")
_READY_KEY = "pmo_idempotency_ready"
_WATCH = "idempotency_watch"
_CLEANUP_EVERY = 300.0


def now() -> float:
    return time.time()


def new_key() -> str:
    """A key for one rendered form (the pages' hidden field)."""
    return uuid.uuid4().hex


# Who holds a key: a process, named so that another can tell whether it still runs ----------


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), '' when unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def owner_of(pid: int) -> str:
    return f"{socket.gethostname()}/{pid}/{_process_start(pid)}"


_OWNER: dict[int, str] = {}


def this_owner() -> str:
    pid = os.getpid()  # per process: a forked worker is another owner than its master
    if pid not in _OWNER:
        _OWNER[pid] = owner_of(pid)
    return _OWNER[pid]


def owner_gone(owner: str) -> bool:
    """Whether the process `owner` names has ended (False when it runs, or when it is on
    another host and cannot be asked)."""
    host, _, rest = owner.partition("/")
    pid_text, _, started = rest.partition("/")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return stat[0] in ("Z", "X") or (bool(started) and stat[19] != started)


# The side table -------------------------------------------------------------------------------


@dataclass
class Row:
    fingerprint: str
    created: float
    state: str
    owner: str
    events: list[tuple[str, int, str | None]]
    status: int | None
    headers: dict[str, str]
    body: bytes


class Claims:
    """Keys in the ledger database's side table (the side-table adapter, ledger/sidestore.py)."""

    COLUMNS = "fingerprint, created, state, owner, events, status, headers, body"

    def __init__(self, pmo: Any) -> None:
        self.pmo = pmo
        self.store = pmo.side_store
        self.table = self.store.table(TABLE)

    def ensure_table(self) -> None:
        """Create the table (idempotent; safe when workers race)."""
        self.store.create([
            f"CREATE TABLE IF NOT EXISTS {self.table} (person TEXT NOT NULL, "
            "idem_key TEXT NOT NULL, fingerprint TEXT NOT NULL, "
            "created DOUBLE PRECISION NOT NULL, state TEXT NOT NULL, owner TEXT NOT NULL, "
            "events TEXT, status INTEGER, headers TEXT, body TEXT, "
            "PRIMARY KEY (person, idem_key))",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_created "
            f"ON {self.table} (created)",
        ])

    def find(self, person: str, key: str) -> Row | None:
        rows = self.store.fetch(f"SELECT {self.COLUMNS} FROM {self.table} "
                                   "WHERE person = ? AND idem_key = ?", (person, key))
        if not rows:
            return None
        fingerprint, created, state, owner, events, status, headers, body = rows[0]
        return Row(fingerprint, float(created), state, owner,
                   [(str(e[0]), int(e[1]), e[2] if len(e) > 2 else None)
                    for e in json.loads(events or "[]")],
                   None if status is None else int(status), json.loads(headers or "{}"),
                   base64.b64decode(body or ""))

    def insert(self, person: str, key: str, fingerprint: str, *, owner: str, at: float) -> bool:
        """Claim the key; False when it is someone's already."""
        try:
            self.store.execute(
                f"INSERT INTO {self.table} (person, idem_key, fingerprint, created, state, owner) "
                "VALUES (?, ?, ?, ?, ?, ?)", (person, key, fingerprint, at, PENDING, owner))
        except IntegrityError:
            return False
        return True

    def attempting(self, person: str, key: str, owner: str,
                   events: Sequence[tuple[str, int, str | None]]) -> None:
        """Note the events about to be written (before the write transaction)."""
        self.store.execute(f"UPDATE {self.table} SET events = ? "
                              "WHERE person = ? AND idem_key = ? AND owner = ?",
                              (json.dumps([list(e) for e in events]), person, key, owner))

    def finish(self, person: str, key: str, owner: str, response: Response) -> None:
        """Keep the answer: the key is spent."""
        headers = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
        self.store.execute(
            f"UPDATE {self.table} SET state = ?, status = ?, headers = ?, body = ? "
            "WHERE person = ? AND idem_key = ? AND owner = ?",
            (DONE, response.status_code, json.dumps(headers),
             base64.b64encode(response.get_data()).decode("ascii"), person, key, owner))

    def release(self, person: str, key: str, owner: str) -> None:
        """Nothing was written: the key is free again."""
        self.store.execute(f"DELETE FROM {self.table} WHERE person = ? AND idem_key = ? "
                              "AND owner = ? AND state = ?", (person, key, owner, PENDING))

    def take_over(self, person: str, key: str, old_owner: str, owner: str, at: float) -> None:
        """A pending key of a process that ended becomes `owner`'s (if still `old_owner`'s)."""
        self.store.execute(f"UPDATE {self.table} SET owner = ?, created = ? WHERE person = ? "
                              "AND idem_key = ? AND owner = ? AND state = ?",
                              (owner, at, person, key, old_owner, PENDING))

    def forget(self, person: str, key: str, created: float) -> None:
        self.store.execute(f"DELETE FROM {self.table} WHERE person = ? AND idem_key = ? "
                              "AND created = ?", (person, key, created))

    def expire(self, at: float) -> None:
        self.store.execute(f"DELETE FROM {self.table} WHERE created < ?", (at - KEEP_SECONDS,))

    def in_log(self, events: Iterable[tuple[str, int, str | None]]) -> list[tuple[int, dict[str, Any]]]:
        """(position, payload) of those of `events` in the log: (originator id, version,
        SHA-256 of the stored state or None). The digest tells the event that was to be
        written from another writer's that took the same version after it failed."""
        found = []
        for originator, version, digest in events:
            for position, state in self.pmo.event_at(UUID(originator), version):
                if digest is None or state_digest(state) == digest:
                    found.append((int(position), _payload(state)))
        return found


def state_digest(state: Any) -> str:
    """SHA-256 (hex) of an event's stored state."""
    return hashlib.sha256(bytes(state)).hexdigest()


def _payload(state: Any) -> dict[str, Any]:
    try:
        value = json.loads(bytes(state))
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def claims(app: Flask | None = None) -> Claims:
    """The keys of the process's ledger (the table made on first use)."""
    from web.ledger_access import get_pmo

    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    table = Claims(get_pmo(app))
    if not app.extensions.get(_READY_KEY):
        table.ensure_table()
        app.extensions[_READY_KEY] = True
    return table


# Watching a request's saves -------------------------------------------------------------------


@dataclass
class Claim:
    person: str
    key: str
    owner: str


@dataclass
class Watch:
    """What one write request did to the log, and the key it holds (if any)."""

    claim: Claim | None = None
    replayed: bool = False
    attempted: list[tuple[str, int, str | None]] = field(default_factory=list)
    committed: list[tuple[str, int, int | None, dict[str, Any]]] = field(default_factory=list)

    def before_append(self, events: Sequence[Any], mapper: Any) -> None:
        self.attempted = [(str(e.originator_id), int(e.originator_version),
                           state_digest(mapper.to_stored_event(e).state)) for e in events]
        if self.claim is not None:  # failing here, nothing is written (the save is not begun)
            claims().attempting(self.claim.person, self.claim.key, self.claim.owner, self.attempted)

    appended: list[tuple[Any, Any]] = field(default_factory=list)  # (committed event, its receipt)

    def after_append(self, events: Sequence[Any], receipts: Sequence[Any]) -> None:
        for event, receipt in zip(events, receipts, strict=True):
            payload = {k: getattr(event, k) for k in ITEM_KEYS if isinstance(getattr(event, k, None), str)}
            self.committed.append((str(event.originator_id), int(event.originator_version),
                                   receipt.position, payload))
            self.appended.append((event, receipt))
        self.attempted = []


def committed_receipt(originator: UUID, match: dict[str, Any] | None = None,
                      topics: Iterable[str] = ()) -> Any:
    """The receipt (ledger/receipts.py) of the newest event this request appended for
    `originator` holding every `match` item (and of one of `topics`, when given), as the
    save itself reported it; None if it appended none."""
    w = _current()
    suffixes = tuple(topics)
    if w is None:
        return None
    for event, receipt in reversed(w.appended):
        if event.originator_id != originator:
            continue
        if suffixes and not str(receipt.topic).endswith(suffixes):
            continue
        if match and any(getattr(event, k, None) != v for k, v in match.items()):
            continue
        return receipt
    return None


def appended_receipts() -> list[Any]:
    """The receipts of every event this request appended, in log order."""
    w = _current()
    return [receipt for _, receipt in w.appended] if w is not None else []


def recorded_at() -> str:
    """The text " (log position N)" for the last event this request appended, for a page's message."""
    receipts = appended_receipts()
    return f" (log position {receipts[-1].position})" if receipts else ""


def _current() -> Watch | None:
    return g.get(_WATCH) if has_app_context() else None


def watch(pmo: Any) -> None:
    """Have the process's ledger application report its saves to the request making them
    (through the ledger's append observer: before the write and after its commit)."""
    pmo.append_observer = _current


# The request's key and body ---------------------------------------------------------------------


def _is_api() -> bool:
    return request.path.startswith(API_PREFIX)


def keyed_write() -> bool:
    """A request that may record events (so is watched, and may carry a key)."""
    return (request.method in WRITES and request.endpoint is not None
            and request.endpoint != "static" and request.endpoint not in NOT_KEYED)


def fingerprint_of_request() -> str:
    """What makes two requests the same one: method, path and query, and the body."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.full_path}\n".encode())
    if _is_api() or not (request.form or request.files):
        data = request.get_data(cache=True)
        try:
            data = json.dumps(json.loads(data), sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False).encode()
        except (ValueError, UnicodeDecodeError):
            pass
        digest.update(data)
        return digest.hexdigest()
    fields = sorted((k, v) for k, v in request.form.items(multi=True)
                    if k not in ("csrf_token", FORM_FIELD))
    for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
        content = hashlib.sha256()
        for chunk in iter(lambda u=upload: u.stream.read(65536), b""):
            content.update(chunk)
        upload.stream.seek(0)
        fields.append((f"file:{name}", f"{upload.filename} {content.hexdigest()}"))
    digest.update(json.dumps(fields, ensure_ascii=False).encode())
    return digest.hexdigest()


def _key() -> str | None:
    key = request.headers.get(HEADER)
    if key is None and not _is_api():
        key = request.form.get(FORM_FIELD)
    return key


def _person() -> str | None:
    """Whose key: the bearer token's person (401 without one), or the signed-in one."""
    if _is_api():
        from web.api.common import current_username

        return current_username()
    from web.auth import current_user

    user = current_user()
    return None if user is None else user.username


def _refusal(status: int, code: str, message: str, errors: dict[str, Any] | None = None,
             retry_after: int | None = None) -> Response:
    body = {"code": code, "message": message, "errors": errors or {}}
    if _is_api():
        response = jsonify(body)
        response.status_code = status
    else:
        from web.pages import render_error_html

        response = render_error_html(status, body)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _replay(row: Row) -> Response:
    response = Response(row.body, status=row.status or 200)
    for name, value in row.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED] = "true"
    return response


# Unfinished business: a key left pending because the database failed as it was finished ------


@dataclass
class _Unfinished:
    claim: Claim
    answer: Response | None  # None: release it (nothing written)
    attempted: list[tuple[str, int, str | None]] = field(default_factory=list)  # in the log?


_UNFINISHED: list[_Unfinished] = []
_UNFINISHED_LOCK = threading.Lock()


def _finish_later(item: _Unfinished) -> None:
    with _UNFINISHED_LOCK:
        _UNFINISHED.append(item)


def _finish_unfinished() -> None:
    """Finish what a database failure left pending in this process (next request)."""
    if not _UNFINISHED:
        return
    with _UNFINISHED_LOCK:
        items = list(_UNFINISHED)
        _UNFINISHED.clear()
    try:
        table = claims()
    except Exception:  # noqa: BLE001 - still unavailable: next time
        with _UNFINISHED_LOCK:
            _UNFINISHED.extend(items)
        return
    for n, item in enumerate(items):
        c = item.claim
        try:
            found = table.in_log(item.attempted) if item.answer is None and item.attempted else []
            if found:
                item.answer = _receipt_response(found)
            if item.answer is None:
                table.release(c.person, c.key, c.owner)
            else:
                table.finish(c.person, c.key, c.owner, item.answer)
        except Exception:  # noqa: BLE001 - the database failing again: next time
            with _UNFINISHED_LOCK:
                _UNFINISHED.extend(items[n:])
            return


# Before the view: the key ------------------------------------------------------------------------


_LAST_CLEANUP: dict[int, float] = {}
# Keys this process's requests hold now: a pending key of this process that no request of
# it holds was left by a request whose database failed as it ended.
_IN_FLIGHT: set[tuple[str, str]] = set()


def _before() -> Response | None:
    if not keyed_write():
        return None
    from web.ledger_access import get_pmo

    try:
        watch(get_pmo())
    except LedgerError:
        return None  # no ledger there: the view says so
    g.setdefault(_WATCH, Watch())
    _finish_unfinished()
    key = _key()
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        return _refusal(422, "validation", f"{HEADER}: 1 to {MAX_KEY} visible ASCII characters",
                        {HEADER: [f"1 to {MAX_KEY} visible ASCII characters (a UUID will do)"]})
    person = _person()
    if person is None:
        return None  # not signed in: the view sends them to sign in
    return _claim(claims(), person, key, fingerprint_of_request())


def _claim(table: Claims, person: str, key: str, fingerprint: str) -> Response | None:
    """Take the key for this request (None: go on to the view), or answer for it."""
    at, owner = now(), this_owner()
    if at - _LAST_CLEANUP.get(os.getpid(), 0.0) > _CLEANUP_EVERY:
        _LAST_CLEANUP[os.getpid()] = at
        table.expire(at)
    for _ in range(3):
        taken = table.insert(person, key, fingerprint, owner=owner, at=at)
        row = None if taken else table.find(person, key)
        if row is not None and row.created < at - KEEP_SECONDS:
            table.forget(person, key, row.created)  # older than a day: forgotten
            continue
        if row is not None and row.fingerprint != fingerprint:
            return _refusal(422, "idempotency-key-reused",
                            f"this {HEADER} was used for another request in the last 24 hours; "
                            "send a new key with a new request", {HEADER: ["used for another request"]})
        if row is not None and row.state == DONE:
            g.get(_WATCH).replayed = True
            return _replay(row)
        if row is not None:
            outcome = _abandoned(table, person, key, row, owner, at)
            if isinstance(outcome, Response):
                return outcome
            if outcome == "busy":
                break
            taken = outcome == "mine"
        if taken:
            g.get(_WATCH).claim = Claim(person, key, owner)
            _IN_FLIGHT.add((person, key))
            return None
        # released meanwhile: take it again
    return _refusal(409, "idempotency-key-in-use",
                    f"a request with this {HEADER} is still being answered; ask again shortly",
                    retry_after=RETRY_AFTER)


def _abandoned(table: Claims, person: str, key: str, row: Row, owner: str,
               at: float) -> Response | str:
    """A pending key: "busy" while it is being answered. Left by a process that ended (or
    by a request of this one that could not finish it): the receipt of the events it was
    writing when they are in the log; else "mine" when this request took the key over, or
    "again" (someone else did, or it was released: look again)."""
    abandoned = ((row.owner == owner and (person, key) not in _IN_FLIGHT)
                 or owner_gone(row.owner) or row.created < at - STALE_SECONDS)
    if not abandoned:
        return "busy"
    table.take_over(person, key, row.owner, owner, at)
    now_row = table.find(person, key)
    if now_row is None or now_row.owner != owner or now_row.state != PENDING:
        return "again"
    found = table.in_log(row.events) if row.events else []
    if not found:
        return "mine"  # nothing was written: this request decides
    answer = _receipt_response(found)
    table.finish(person, key, owner, answer)
    return answer


# After the view: the answer ----------------------------------------------------------------------


def _documented_success() -> int:
    """The operation's first documented 2xx status (201 for a creation, 200 a decision)."""
    api = current_app.extensions.get("pmo_api")
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)
    try:
        op = api.spec.to_dict()["paths"].get(path, {}).get(request.method.lower(), {})
        codes = sorted(int(c) for c in op.get("responses", {}) if str(c).startswith("2"))
    except Exception:  # noqa: BLE001 - no API document: a plain success
        codes = []
    return codes[0] if codes else 200


def _item(payloads: Iterable[dict[str, Any]]) -> str:
    args = request.view_args or {}
    for name in ("item", "gate", "milestone"):
        if args.get(name):
            return str(args[name])
    for payload in payloads:
        for key in ITEM_KEYS:
            if isinstance(payload.get(key), str) and payload[key]:
                return payload[key]
    return str(args.get("code", ""))


def _receipt_response(found: Sequence[tuple[int | None, dict[str, Any]]],
                      receipts: Sequence[Any] = ()) -> Response:
    """The success of a committed write whose own answer failed: `found` is (position,
    payload) per event it wrote; `receipts` those its saves reported, where known."""
    item = _item(p for _, p in found)
    positions = [pos for pos, p in found if item and item in p.values()] or [pos for pos, _ in found]
    position = positions[0] if positions else None
    if _is_api():
        receipt = next((r.as_dict() for r in receipts if r.position == position), None)
        response = jsonify({"id": item, "status": "recorded", "position": position,
                            "receipt": receipt})
        response.status_code = _documented_success()
        return response
    args = request.view_args or {}
    if request.blueprint == "queues" and position is not None:
        target = url_for("queues.receipt", role=args.get("role", ""), position=position)
    elif args.get("code"):
        target = url_for("projects.show", code=args["code"])
    else:
        target = url_for("portfolio.index")
    try:
        flash(f"Recorded{f' at position {position}' if position else ''}.", "ok")
    except Exception:  # noqa: BLE001 - the message is a courtesy; the redirect is the answer
        pass
    response = Response(f'<p>Recorded. <a href="{target}">Continue</a></p>', status=302,
                        mimetype="text/html")
    response.headers["Location"] = target
    return response


def _committed_events(w: Watch) -> list[tuple[int | None, dict[str, Any]]]:
    """(position, payload) per event the request committed; the payloads read from the log
    when it answers, else the positions of the save's receipts (None when unknown)."""
    try:
        from web.ledger_access import get_pmo

        pmo = get_pmo()
        found = Claims(pmo).in_log([(o, v, None) for o, v, _, _ in w.committed])
        if len(found) == len(w.committed):
            return [(pos, {**payload, **w.committed[i][3]}) for i, (pos, payload) in enumerate(found)]
    except Exception:  # noqa: BLE001 - the database may be what failed
        pass
    return [(position, payload) for _, _, position, payload in w.committed]


def _as_success(response: Response, w: Watch) -> Response:
    """Turn an error answer of a committed write into its success, in place (the headers
    other hooks added stay)."""
    success = _receipt_response(_committed_events(w), [receipt for _, receipt in w.appended])
    current_app.logger.warning("%s %s failed after its commit (%s): answered %s with the receipt",
                               request.method, request.path, response.status_code,
                               success.status_code)
    response.status_code = success.status_code
    response.set_data(success.get_data())
    response.mimetype = success.mimetype
    for name in ("Retry-After", "WWW-Authenticate"):
        response.headers.pop(name, None)
    if "Location" in success.headers:
        response.headers["Location"] = success.headers["Location"]
    return response


def _done(_error: BaseException | None = None) -> None:
    w: Watch | None = g.get(_WATCH)
    if w is not None and w.claim is not None:
        _IN_FLIGHT.discard((w.claim.person, w.claim.key))


def _after(response: Response) -> Response:
    w: Watch | None = g.get(_WATCH)
    if w is None or w.replayed:
        return response
    try:
        return _settle(response, w)
    except Exception:  # noqa: BLE001 - the answer stands; the key is finished later
        current_app.logger.exception("idempotency: could not settle %s %s", request.method, request.path)
        return response


def _settle(response: Response, w: Watch) -> Response:
    status = response.status_code
    committed = bool(w.committed)
    if not committed and w.attempted and status >= 500:
        # The save failed at its end (a connection lost at COMMIT?): was it written?
        try:
            found = claims().in_log(w.attempted)
        except Exception:  # noqa: BLE001 - cannot tell now: the key waits, the error stands
            if w.claim is not None:
                _finish_later(_Unfinished(w.claim, None, list(w.attempted)))
                w.claim = None
            return response
        if found:
            w.committed = [(o, v, None, p) for (o, v, _), (_, p) in zip(w.attempted, found, strict=False)]
            committed = True
        w.attempted = []
    if committed and status >= 400:
        response = _as_success(response, w)
    if w.claim is None:
        return response
    c, w.claim = w.claim, None
    _IN_FLIGHT.discard((c.person, c.key))
    spent = committed or 200 <= response.status_code < 400
    try:
        table = claims()
        if spent:
            table.finish(c.person, c.key, c.owner, response)
        else:
            table.release(c.person, c.key, c.owner)
    except Exception as e:  # noqa: BLE001 - the database failed just now: next request
        current_app.logger.warning("idempotency key %s left pending (%s: %s); finished later",
                                   c.key, type(e).__name__, e)
        _finish_later(_Unfinished(c, _copy(response) if spent else None))
    return response


def _copy(response: Response) -> Response:
    copy = Response(response.get_data(), status=response.status_code)
    for name in KEPT_HEADERS:
        if name in response.headers:
            copy.headers[name] = response.headers[name]
    return copy


# Installing --------------------------------------------------------------------------------------


def install(app: Flask) -> None:
    """Keys and receipts on every write; the header in the OpenAPI document; the pages'
    `idempotency_key()` for their forms' hidden field."""

    app.before_request(_before)
    app.teardown_request(_done)
    # Runs last of the after-request hooks (they run in reverse order of registration), so
    # it sees the answer as it will go out, and an error any of them made.
    app.after_request_funcs.setdefault(None, []).insert(0, _after)
    app.jinja_env.globals["idempotency_key"] = new_key
    document(app)


def document(app: Flask) -> None:
    """The header as an optional parameter of every API write that may record events."""
    api = app.extensions.get("pmo_api")
    if api is None:
        return
    api.spec.components.parameter("IdempotencyKey", "header", {
        "name": HEADER, "required": False,
        "description": (
            "Any unique string of 1 to 200 visible ASCII characters (a UUID). A repeat of this "
            "request with the same key within 24 hours gets the first answer again, with "
            f"`{REPLAYED}: true`, and writes nothing; the same key with another request is 422 "
            "`idempotency-key-reused`; a repeat while the first is still being answered is 409 "
            "`idempotency-key-in-use` with Retry-After. Keys are each person's own. A refused "
            "request does not spend its key."),
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY,
                   "pattern": f"^[\\x21-\\x7e]{{1,{MAX_KEY}}}$"},
    })
    ref = {"$ref": "#/components/parameters/IdempotencyKey"}
    for path, item in api.spec.to_dict()["paths"].items():
        if path.startswith("/api/v1/tokens"):
            continue
        for method, op in item.items():
            if method.upper() in WRITES and isinstance(op, dict) and ref not in op.setdefault("parameters", []):
                op["parameters"].append(ref)
