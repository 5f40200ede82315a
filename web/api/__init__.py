"""The JSON API under /api/v1, described by /api/v1/openapi.json (flask-smorest, generated
from the marshmallow schemas of `web.schemas`, the same ones the HTML forms load).

    from web.api import register_api; register_api(app)

Bearer tokens (`POST /api/v1/tokens`), checked before anything else of a request is read
(web/api/parsing.py: 401 comes before 400, 415 or 422), errors as `{code, message,
errors}` through the app's one error handler (`web.errors`: 404 for an unknown path, 405
with Allow, 413, 414...). CSRF does not apply: API calls carry a bearer token, never a
session cookie, so the API blueprints are exempt from CSRFProtect.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api

from web.errors import register_error_handlers
from web.schemas import ErrorSchema


class _Api(Api):
    """flask-smorest without its own error handler: `web.errors` answers every error,
    in the shape `web.schemas.ErrorSchema` documents."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:  # noqa: D401
        return None


def register_api(app: Flask) -> Api:
    """Register the API blueprints and the OpenAPI document on `app`."""
    from web.api import ledger, projects

    app.config.setdefault("API_TITLE", "PMO Ledger API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": __doc__.split("\n\n")[0].replace("\n", " ")},
        "security": [{"bearerAuth": []}],
        "components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer",
                           "description": "a token from POST /api/v1/tokens"}}},
    })
    app.url_map.converters["gate"] = projects.GateConverter
    api = _Api(app)
    api.register_converter(projects.GateConverter, projects.GateConverter.openapi)
    blueprints = (ledger.tokens, projects.blp, ledger.oversight)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    app.extensions["pmo_api_blueprints"] = blueprints
    if "pmo_error_handler" not in app.extensions:
        register_error_handlers(app)
    exempt_from_csrf(app)
    app.extensions["pmo_api"] = api
    return api


def exempt_from_csrf(app: Flask) -> None:
    """Exempt the API blueprints from Flask-WTF's CSRFProtect, if it is set up (call
    again after `CSRFProtect(app)` if that runs after `register_api`)."""
    csrf: Any = app.extensions.get("csrf")
    if csrf is None or not hasattr(csrf, "exempt"):
        return
    for blueprint in app.extensions.get("pmo_api_blueprints", ()):
        csrf.exempt(blueprint)
