"""Browser-facing hardening: the session cookie's flags and the security headers of every
response, set in one place.

    install(app)    # in create_app: the session interface, the same-origin check of form
                    # posts and one after_request hook

- The session cookie is HttpOnly and SameSite=Lax always, and Secure when the request came
  over HTTPS (directly, or through a proxy gunicorn trusts to say so with
  X-Forwarded-Proto), and always when the app's SECURE_COOKIES setting (`serve
  --secure-cookies`) or $PMO_LEDGER_SECURE_COOKIES=1 says so (behind a TLS proxy that
  does not forward the scheme).
  Plain http on loopback (the demo) keeps working because Secure is not forced there.
- Content-Security-Policy: the pages load only their own stylesheet; no script runs unless
  it carries the request's nonce (`csp_nonce()` in templates; none needs one today).
  Styles allow 'unsafe-inline': the server-drawn SVG charts carry a <style> element and a
  few templates use style attributes, and a nonce cannot cover attributes. pygal's inline
  configuration <script> in those charts is blocked, which is harmless (it only feeds a
  tooltip script that is never loaded).
- Every response but static files is `Cache-Control: no-store`: pages show who is signed
  in and what they may sign, API answers carry ledger data, and the sign-in form carries a
  CSRF token; none of it belongs in a shared or back-button cache.
- Referrer-Policy is same-origin, not no-referrer: Flask-WTF checks the Referer of forms
  posted over HTTPS.
- A state-changing form post (POST, PUT, PATCH, DELETE outside /api/) must come from this
  site: its Origin header, or without one its Referer, must be this server's own origin,
  the request's scheme (https when it came over HTTPS, including through a loopback proxy
  sending X-Forwarded-Proto, or whenever SECURE_COOKIES says a TLS proxy is in front) and
  its Host. Anything else, "null" included, is refused with 403 before the view runs, even
  with a valid CSRF token. A request with neither header (no browser sends a form without
  them) is left to the CSRF token. The API is not concerned: it takes bearer tokens, never
  cookies, so another site's page gains nothing by posting to it.
"""

from __future__ import annotations

import os
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

SECURE_COOKIES_ENV = "PMO_LEDGER_SECURE_COOKIES"
HSTS = "max-age=31536000"

_CSP = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def env_flag(name: str) -> bool | None:
    """True/False for an environment variable set to yes/no (1/0, true/false, on/off)."""
    value = os.environ.get(name, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return None


class LedgerSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with Secure added for any request made over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = super().get_cookie_secure(app)
        return bool(configured or (has_request_context() and request.is_secure))


STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/api/"
DEFAULT_PORTS = {"http": 80, "https": 443}
CROSS_SITE = ("this form was sent from another site (its Origin or Referer is not this "
              "server), so it is refused; nothing was recorded")


def same_origin(url: str) -> bool:
    """Whether `url` (an Origin or Referer) is of this server's own origin."""
    try:
        theirs = urlsplit(url.strip())
        mine = urlsplit(f"//{request.host}")
        their_port, my_port = theirs.port, mine.port
    except ValueError:
        return False
    schemes = {request.scheme}
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        schemes.add("https")  # behind a TLS proxy that does not say so (SECURE_COOKIES)
    scheme = theirs.scheme.lower()
    if scheme not in schemes or not theirs.hostname or not mine.hostname:
        return False
    default = DEFAULT_PORTS[scheme]
    return theirs.hostname == mine.hostname and (their_port or default) == (my_port or default)


def _refuse_cross_site_forms() -> None:
    if request.method not in STATE_CHANGING or request.path.startswith(API_PREFIX):
        return
    origin = request.headers.get("Origin")
    if origin is None:
        origin = request.headers.get("Referer")
    if origin is not None and not same_origin(origin):
        abort(403, description=CROSS_SITE)


def csp_nonce() -> str:
    """This request's script nonce (made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Content-Security-Policy"] = _CSP.format(nonce=csp_nonce())
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
    return response


def install(app: Flask) -> None:
    """The session interface, cookie flags and the one security-headers hook."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    forced = app.config.get("SECURE_COOKIES")
    if forced is None:
        forced = env_flag(SECURE_COOKIES_ENV)
    if forced:
        app.config["SESSION_COOKIE_SECURE"] = True
    app.session_interface = LedgerSessionInterface()
    app.before_request(_refuse_cross_site_forms)
    app.after_request(_headers)

    @app.context_processor
    def _nonce() -> dict[str, Any]:
        return {"csp_nonce": csp_nonce}
