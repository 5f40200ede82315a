"""One error handler for the whole web app: refusals become HTTP answers, never a 500.

    register_error_handlers(app, render_html=render_error_page)

`describe(error)` turns any exception into `(status, {"code", "message", "errors"})`:

- domain errors (`domain.errors`) and ledger errors (`ledger.errors`) keep their stable
  `code`; a role refusal (`not-authorised`) is answered as 403 `forbidden`;
- marshmallow / webargs validation errors are 422 `validation`, with per-field messages;
- a missing or bad bearer token is 401 `unauthorised` (raise `Unauthorised`);
- too many failed sign-ins is 429 `too-many-requests` (raise `TooManyAttempts`), with
  Retry-After;
- an unreachable or uninitialised database is 503 `backend-unavailable`, with Retry-After:
  the ledger's own errors, and the database drivers' operational failures (the library's
  OperationalError / InterfaceError, psycopg's, a pool timeout) anywhere in
  the exception's cause chain. The page says only that the database is unavailable; the
  driver's detail goes to the operator's log as one warning line, never a traceback;
- a write while the ledger has an integrity fault is 503 `ledger-fault` (raised by the
  app's integrity check before the view runs: nothing is written), without Retry-After:
  it lasts until the fault is resolved;
- a body over MAX_CONTENT_LENGTH is 413 `too-large`, before anything is read or written;
- a request target (path and query, as sent) over MAX_URL_BYTES is 414 `uri-too-long`,
  before anything else is done with the request (`refuse_long_urls`, installed first);
- werkzeug HTTP errors keep their status (404 `not-found`, 405 `method-not-allowed`...)
  and their headers (a 405's `Allow`: the methods the URL does take);
- anything else is a 500 `internal` (logged; in testing it propagates).

Requests under /api/ get the JSON body; other requests get `render_html(status, body,
error)` when the pages pass one, else a plain-text page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, current_app, jsonify, request
from marshmallow import ValidationError as SchemaValidationError
from werkzeug.exceptions import HTTPException, RequestURITooLarge

from domain.errors import DomainError
from ledger.backend import backend_failure_types
from ledger.errors import LedgerError

HtmlRenderer = Callable[[int, dict[str, Any], BaseException], Any]

API_PREFIX = "/api/"

# HTTP status per stable code. Anything not listed: 409 for domain refusals (the request
# was understood but the state of the record forbids it), 500 for ledger errors.
STATUS: dict[str, int] = {
    "validation": 422,
    "canonical-encoding": 422,
    "bad-checkpoint": 422,
    "bad-bundle": 422,
    "bad-request": 400,
    "unauthorised": 401,
    "forbidden": 403,
    "segregation-of-duties": 403,
    "unknown-key": 403,
    "revoked-key": 403,
    "not-found": 404,
    "method-not-allowed": 405,
    "duplicate": 409,
    "conflict": 409,
    "invalid-state": 409,
    "threshold-approvals": 409,
    "would-overdraw": 409,
    "gate-out-of-order": 409,
    "baseline-locked": 409,
    "project-closed": 409,
    "open-items": 409,
    "backend-unavailable": 503,
    "ledger-fault": 503,
    "not-initialised": 503,
    "bad-passphrase": 503,
    "bad-backend-url": 503,
}

# Codes renamed at the HTTP edge (the domain's own word stays in the CLI and the log).
HTTP_CODE = {"not-authorised": "forbidden"}

_HTTP_STATUS_CODE = {400: "bad-request", 401: "unauthorised", 403: "forbidden", 404: "not-found",
                     405: "method-not-allowed", 409: "conflict", 413: "too-large",
                     414: "uri-too-long", 415: "unsupported-media-type", 422: "validation",
                     429: "too-many-requests", 503: "backend-unavailable"}

# The longest request target (path and query string, as sent) the app answers: 414 beyond.
# gunicorn reads request lines up to its own maximum, 8,190 bytes (web/serve.py sets it),
# so that the app, not gunicorn's HTML page, answers targets from here to there.
MAX_URL_BYTES = 8000


# Seconds a client is told to wait before retrying when the database is unavailable.
RETRY_AFTER_UNAVAILABLE = 5
# What a person or client is told then; the driver's detail goes to the operator's log.
UNAVAILABLE = ("the ledger database is not available right now; nothing was recorded. "
               "Try again in a few seconds.")


class TooManyAttempts(Exception):
    """Too many failed sign-ins for this username or from this address (429)."""

    code = "too-many-requests"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, round(retry_after / 60))
        super().__init__(f"too many failed sign-in attempts; try again in about {minutes} "
                         f"minute{'s' if minutes != 1 else ''}")
        self.message = str(self)
        self.retry_after = max(1, int(retry_after))


class Unauthorised(Exception):
    """No credentials, or credentials that do not identify an active person (401)."""

    code = "unauthorised"

    def __init__(self, message: str = "sign in or send Authorization: Bearer <token>") -> None:
        super().__init__(message)
        self.message = message


def _field_errors(messages: Any) -> dict[str, Any]:
    if isinstance(messages, dict):
        # webargs nests per location ({"json": {...}}); flatten one level of that.
        if set(messages) <= {"json", "form", "query", "querystring", "path", "files", "headers",
                             "cookies", "view_args"}:
            flat: dict[str, Any] = {}
            for part in messages.values():
                flat.update(_field_errors(part))
            return flat
        return messages
    if isinstance(messages, list):
        return {"_schema": messages}
    return {"_schema": [str(messages)]}


def _summary(errors: dict[str, Any]) -> str:
    if not errors:
        return "the input is not valid"
    name = next(iter(errors))
    first = errors[name]
    while isinstance(first, (list, dict)) and first:
        first = first[0] if isinstance(first, list) else next(iter(first.values()))
    if name == "_schema":
        return str(first)
    return f"{name}: {first}"


def backend_failure(error: BaseException) -> BaseException | None:
    """The database driver's operational failure (unreachable, restarting, locked, gone)
    behind `error`, if any: the error itself or one of its causes."""
    kinds = backend_failure_types()
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return current
        seen.add(id(current))
        # `raise ... from None` hides the context on purpose: so do we.
        hidden = current.__suppress_context__ and current.__cause__ is None
        current = current.__cause__ or (None if hidden else current.__context__)
    return None


def is_unavailable(error: BaseException) -> bool:
    """The database cannot be reached or used right now (503, not the request's fault)."""
    if isinstance(error, LedgerError):  # the ledger says so itself, by its code
        return error.code == "backend-unavailable"
    return not isinstance(error, HTTPException) and backend_failure(error) is not None


def _too_large_message() -> str:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    size = f" of {limit // (1024 * 1024)} MB" if limit and limit >= 1024 * 1024 else ""
    return f"the request is larger than the limit{size} this server accepts; nothing was recorded"


def describe(error: BaseException) -> tuple[int, dict[str, Any]]:
    """(HTTP status, {"code", "message", "errors"}) for any exception."""
    if is_unavailable(error):  # first: a domain error caused by a lost connection is a 503
        return 503, {"code": "backend-unavailable", "message": UNAVAILABLE, "errors": {}}
    if isinstance(error, DomainError):
        body = error.as_dict()
        body["code"] = HTTP_CODE.get(error.code, error.code)
        if error.details.get("items"):
            body["items"] = list(error.details["items"])
        return STATUS.get(body["code"], 409), body
    if isinstance(error, SchemaValidationError):
        errors = _field_errors(error.messages)
        return 422, {"code": "validation", "message": _summary(errors), "errors": errors}
    if isinstance(error, Unauthorised):
        return 401, {"code": "unauthorised", "message": error.message, "errors": {}}
    if isinstance(error, TooManyAttempts):
        return 429, {"code": error.code, "message": error.message, "errors": {}}
    if isinstance(error, LedgerError):
        code = HTTP_CODE.get(error.code, error.code)
        return STATUS.get(code, 500), {"code": code, "message": str(error), "errors": {}}
    if isinstance(error, HTTPException):
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        if status == 422 and "messages" in data:  # webargs (flask-smorest) parsing errors
            errors = _field_errors(data["messages"])
            return 422, {"code": "validation", "message": _summary(errors), "errors": errors}
        code = _HTTP_STATUS_CODE.get(status, "http-error")
        message = _too_large_message() if status == 413 else error.description or error.name
        return status, {"code": code, "message": message, "errors": {}}
    return 500, {"code": "internal", "message": "internal error; the operator's log has details",
                 "errors": {}}


def wants_json() -> bool:
    return request.path.startswith(API_PREFIX)


def _plain(status: int, body: dict[str, Any], error: BaseException) -> Any:
    lines = [f"{status} {body['code']}", "", body["message"]]
    lines += [f"{k}: {'; '.join(map(str, v)) if isinstance(v, list) else v}"
              for k, v in body["errors"].items()]
    return Response("\n".join(lines) + "\n", status=status, mimetype="text/plain")


def _http_headers(response: Response, error: BaseException) -> Response:
    """The headers a werkzeug HTTP error carries besides its own page's Content-Type (a
    405's Allow, a 401's WWW-Authenticate...)."""
    if isinstance(error, HTTPException):
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
    return response


def _retry_after(response: Response, error: BaseException, status: int) -> Response:
    """Tell clients when to try again: after a rate limit, or while the database is down."""
    if isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    elif status == 503 and getattr(error, "code", None) != "ledger-fault":
        response.headers["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE)
    return response


def register_error_handlers(app: Flask, render_html: HtmlRenderer | None = None) -> None:
    """Register the one handler. `render_html(status, body, error)` answers non-API
    requests (a Flask response or anything a view may return); without it, plain text."""
    renderer = render_html or _plain

    def handle(error: BaseException) -> Any:
        status, body = describe(error)
        if is_unavailable(error):
            cause = backend_failure(error) or error
            current_app.logger.warning("database unavailable on %s %s: %s: %s", request.method,
                                       request.path, type(cause).__name__, cause)
        elif status >= 500 and status != 503:  # 503: a known state (not initialised...)
            if current_app.testing or current_app.config.get("PROPAGATE_EXCEPTIONS"):
                if not isinstance(error, HTTPException):
                    raise error
            current_app.logger.exception("unhandled error on %s %s", request.method, request.path,
                                         exc_info=error)
        if wants_json():
            response = jsonify(body)
            response.status_code = status
            _http_headers(response, error)
            if status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="pmo-ledger"'
            return _retry_after(response, error, status)
        result = renderer(status, body, error)
        if isinstance(result, tuple):
            result = current_app.make_response(result)
        if not isinstance(result, Response):
            result = current_app.make_response((result, status))
        if result.status_code == 200:
            result.status_code = status
        return _retry_after(_http_headers(result, error), error, status)

    for kind in (DomainError, LedgerError, SchemaValidationError, Unauthorised, TooManyAttempts,
                 HTTPException, Exception):
        app.register_error_handler(kind, handle)
    app.extensions["pmo_error_handler"] = handle
    # First of all the before-request hooks: a URL over the limit is refused before the
    # CSRF check, the integrity check's database read or anything else looks at it.
    hooks = app.before_request_funcs.setdefault(None, [])
    if refuse_long_urls not in hooks:
        hooks.insert(0, refuse_long_urls)


def request_target_bytes(environ: dict[str, Any]) -> int:
    """The length of the request target (path and query) as the client sent it."""
    query = environ.get("QUERY_STRING", "")
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")  # gunicorn's, werkzeug's server
    if raw:  # the target as sent (some servers' without its query)
        size = len(raw.encode("latin-1", "replace"))
        return size if "?" in raw or not query else size + 1 + len(query)
    path = quote(environ.get("PATH_INFO", "").encode("latin-1", "replace"), safe="/;=,:@!$&'()*+~")
    return len(path) + (len(query) + 1 if query else 0)


def refuse_long_urls() -> None:
    """414 `uri-too-long` for a request target over MAX_URL_BYTES (JSON under /api/)."""
    limit = current_app.config.get("MAX_URL_BYTES", MAX_URL_BYTES)
    if request_target_bytes(request.environ) > limit:
        raise RequestURITooLarge(f"the URL (path and query) is longer than the {limit:,} bytes "
                                 "this server accepts; nothing was recorded")
