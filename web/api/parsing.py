"""How the API reads a request: who sends it first, then its body, as JSON only, and strict.

Authentication first: flask-smorest parses and validates a view's arguments in its
decorators, before the view body runs, so a check of the bearer token inside the view came
after them (a request without a token was told its body was invalid, 422, before 401). The
API's `Blueprint` authenticates in a `before_request` hook of its own instead, which Flask
runs before any view or decorator: without a valid token every operation answers 401 and
nothing of the request is read. Operations that need no token say so with
`@blueprint.public` (documented `security: []`); OPTIONS (the Allow header only) needs none.

webargs' stock Flask parser ignores a body sent with another media type (so a form-encoded
approval would be read as `{}` and go through) and lets Python's `json` module raise
errors it does not catch (a 5,000-digit number, a body nested 100,000 deep: a 500). The
API's blueprints use `Blueprint` from here instead, whose parser answers:

- a non-empty body that is not `application/json` (or `+json`): 415 `unsupported-media-type`;
- a body that is not strict JSON (RFC 8259: no NaN/Infinity, numbers that fit, nesting
  Python can decode): 400 `bad-request`, saying why;
- an object that gives a key more than once (`{"amount": "1.00", "amount": "2.00"}`,
  which `json` would read as its last value): 422 `validation`, naming the key. The body
  is well-formed JSON, so it is the fields that are refused, as an unknown field is.

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
from flask import request
from marshmallow import ValidationError
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from web.api.common import current_username


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


class RepeatedKeyError(ValueError):
    """A JSON object that gives one key more than once."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key!r} is given more than once in one JSON object")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object_pairs_hook: the object as a dict, unless a key repeats."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise RepeatedKeyError(key)
            seen.add(key)
    return obj


def strict_json(body: bytes) -> Any:
    """Decode a request body as strict JSON; ValueError (with a reason) otherwise
    (RepeatedKeyError for a key given twice in one object)."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite,
                          object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 ({e.reason})") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


class StrictJsonParser(FlaskParser):
    """webargs' FlaskParser, refusing what it would ignore or crash on (see the module)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
                                   "query": None, "querystring": None}

    def load_json(self, req: Any, schema: Any) -> Any:
        """webargs' loader of the `json` location, strict (see the module)."""
        body = req.get_data(cache=True)
        if not body.strip():
            return core.missing
        if not is_json_request(req):
            raise UnsupportedMediaType(
                f"send the body as application/json, not {req.mimetype or 'an untyped body'}")
        try:
            return strict_json(body)
        except RepeatedKeyError as e:
            raise ValidationError({e.key: [str(e)]}) from None
        except ValueError as e:
            raise BadRequest(f"the body is not valid JSON: {e}") from None


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with the strict JSON parser, authenticating every request
    before its view (and the view's argument parsing) unless the view is `public`."""

    ARGUMENTS_PARSER = StrictJsonParser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.public_endpoints: set[str] = set()
        self.before_request(self._authenticate_first)

    def public(self, view: Any) -> Any:
        """Decorate a view (under `route`) that needs no bearer token: it is documented
        with `security: []` and the blueprint does not authenticate its requests."""
        self.public_endpoints.add(f"{self.name}.{view.__name__}")
        return self.doc(security=[])(view)

    def _authenticate_first(self) -> None:
        if request.method == "OPTIONS" or request.endpoint in self.public_endpoints:
            return
        current_username()  # 401 `unauthorised` without a valid token
