"""How the API reads request bodies: JSON only, and strict JSON.

webargs' stock Flask parser ignores a body sent with another media type (so a form-encoded
approval would be read as `{}` and go through) and lets Python's `json` module raise
errors it does not catch (a 5,000-digit number, a body nested 100,000 deep: a 500). The
API's blueprints use `Blueprint` from here instead, whose parser answers:

- a non-empty body that is not `application/json` (or `+json`): 415 `unsupported-media-type`;
- a body that is not strict JSON (RFC 8259: no NaN/Infinity, numbers that fit, nesting
  Python can decode): 400 `bad-request`, saying why.

An empty body stays "no fields given", as before.

Query parameters are loaded by the schema's own `unknown` setting (the API's query
schemas refuse unknown ones: a misspelt `?asof=` is a 422, not today's figures), where
webargs would exclude them whatever the schema says.
"""

from __future__ import annotations

import json
import math
from typing import Any

import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def strict_json(body: bytes) -> Any:
    """Decode a request body as strict JSON; ValueError (with a reason) otherwise."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 ({e.reason})") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


class StrictJsonParser(FlaskParser):
    """webargs' FlaskParser, refusing what it would ignore or crash on (see the module)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
                                   "query": None, "querystring": None}

    def _raw_load_json(self, req: Any) -> Any:
        body = req.get_data(cache=True)
        if not body.strip():
            return core.missing
        if not is_json_request(req):
            raise UnsupportedMediaType(
                f"send the body as application/json, not {req.mimetype or 'an untyped body'}")
        try:
            return strict_json(body)
        except ValueError as e:
            raise BadRequest(f"the body is not valid JSON: {e}") from None


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with the strict JSON parser."""

    ARGUMENTS_PARSER = StrictJsonParser()
