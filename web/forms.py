"""Reading HTML forms through the shared marshmallow schemas (web/schemas/), and
describing a schema's fields for the one form template.

Views never read request.form fields by hand:

    try:
        kwargs = load(ExpenditureSchema(), extra={"document_sha256": digest})
    except FormErrors as e:
        ... re-render with e.values and e.errors, status 422

`widgets(schema)` turns the schema's fields into what `templates/form.html` draws: a
label, an input type (text, date, number, select, textarea, file) and the choices.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError, fields, pre_load, validate

from web import schemas as shared
from web.schemas import form_data


class FormErrors(Exception):
    """A form that did not load: the user's input (to show again) and messages per field
    (`_schema` for the form as a whole)."""

    def __init__(self, values: dict[str, Any], errors: dict[str, list[str]]) -> None:
        super().__init__("the form has errors")
        self.values = values
        self.errors = errors


def flatten(messages: Any) -> dict[str, list[str]]:
    """marshmallow's (possibly nested) messages as {field: [text, ...]}; a nested item's
    messages are prefixed with its place, e.g. "line 2: amount: is required"."""
    if not isinstance(messages, dict):
        return {"_schema": list(_texts(messages))}
    return {str(key): list(_texts(value)) for key, value in messages.items()}


def _texts(value: Any, prefix: str = "") -> Any:
    if isinstance(value, dict):
        for key, inner in value.items():
            label = f"line {key + 1}" if isinstance(key, int) else str(key)
            yield from _texts(inner, f"{prefix}{label}: ")
    elif isinstance(value, (list, tuple)):
        for inner in value:
            yield from _texts(inner, prefix)
    else:
        yield f"{prefix}{value}"


def raw_values(schema: Schema, source: Any = None) -> dict[str, Any]:
    """What the user typed, as text, for every field the schema knows (never the CSRF token)."""
    source = request.form if source is None else source
    return {name: source.get(name, "") for name in schema.fields}


def load(schema: Schema, *, source: Any = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load the request's form (or `source`) through `schema`; raise FormErrors."""
    source = request.form if source is None else source
    data = form_data(schema, source)
    if extra:
        data.update(extra)
    try:
        return schema.load(data)
    except ValidationError as e:
        raise FormErrors(raw_values(schema, source), flatten(e.messages)) from None


def sha256_of_upload(name: str) -> str | None:
    """SHA-256 (hex) of the uploaded file `name`, or None when no file was chosen."""
    upload = request.files.get(name)
    if upload is None or not upload.filename:
        return None
    digest = hashlib.sha256()
    for chunk in iter(lambda: upload.stream.read(65536), b""):
        digest.update(chunk)
    return digest.hexdigest()


# Web-only schemas ----------------------------------------------------------------------------


class SignInSchema(shared.CommandSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=120))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000))


_IMPACT = re.compile(r"^\s*(\S+)\s+([-+]?[0-9][0-9,]*(?:\.[0-9]+)?)\s*(?:\|\s*(.*?)\s*(?:\|\s*(.*?)\s*)?)?$")


class ChangeRequestFormSchema(shared.ChangeRequestSchema):
    """The change request as a form: impacts typed one per line in textareas.

    cost_impacts:     `HW-01 5000.00` or `-2500`; a new line: `TR-01 8000 | Training | training`
    schedule_impacts: `M-02 planned_finish=2026-09-30 budgeted_value=120000`
    deliverables:     `D-05 | Mobile app`
    """

    cost_impacts = fields.List(fields.Nested(shared.CostImpactSchema), load_default=list,
                               metadata={"widget": "textarea", "help":
                                         "one per line: LINE AMOUNT (signed), e.g. HW-01 5000.00; "
                                         "a new line: TR-01 8000 | Training | training"})
    schedule_impacts = fields.List(fields.Nested(shared.ScheduleImpactSchema), load_default=list,
                                   metadata={"widget": "textarea", "help":
                                             "one per line: M-02 planned_finish=2026-09-30 budgeted_value=120000"})
    deliverables = fields.List(fields.Nested(shared.NewDeliverableSchema), load_default=list,
                               metadata={"widget": "textarea",
                                         "help": "new deliverables, one per line: D-05 | Mobile app"})

    @pre_load
    def _from_textareas(self, data: Any, **kwargs: Any) -> Any:
        data = dict(data)
        for name, parse in (("cost_impacts", _cost), ("schedule_impacts", _schedule),
                            ("deliverables", _deliverable)):
            value = data.get(name)
            if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
                value = value[0]
            if isinstance(value, str):  # a value left empty is not given, as in form_data
                data[name] = [{k: v for k, v in parse(t).items() if v.strip()}
                              for t in value.splitlines() if t.strip()]
        return data


class GateReviewFormSchema(shared.GateReviewSchema):
    """The gate review request as a form: artifact names one per line."""

    artifacts = fields.List(fields.Nested(shared.ArtifactSchema), required=True,
                            validate=validate.Length(min=1),
                            metadata={"widget": "textarea",
                                      "help": "the review pack: one document name per line"})

    @pre_load
    def _names(self, data: Any, **kwargs: Any) -> Any:
        data = dict(data)
        value = data.get("artifacts")
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "\n".join(value)
        if isinstance(value, str):
            data["artifacts"] = [{"name": n.strip()} for n in value.splitlines() if n.strip()]
        return data


def _cost(text: str) -> dict[str, Any]:
    m = _IMPACT.match(text)
    if not m:
        return {"line": text.strip(), "amount": ""}
    out: dict[str, Any] = {"line": m[1], "amount": m[2].lstrip("+")}
    if m[3]:
        out["name"] = m[3]
    if m[4]:
        out["category"] = m[4]
    return out


def _schedule(text: str) -> dict[str, Any]:
    first, *rest = text.split()
    out: dict[str, Any] = {"milestone": first}
    for part in rest:
        key, _, value = part.partition("=")
        out[key] = value
    return out


def _deliverable(text: str) -> dict[str, Any]:
    code, _, name = text.partition("|")
    return {"deliverable": code.strip(), "name": name.strip()}


# Widgets ----------------------------------------------------------------------------------------

_LONG = {"description", "scope_statement", "justification", "mitigation", "summary", "note",
         "scope_impact", "reason", "artifacts", "objectives", "conditions", "resolution"}


@dataclass
class Widget:
    name: str
    label: str
    kind: str  # text, date, number, select, textarea, file, password
    required: bool
    choices: list[tuple[str, str]] = field(default_factory=list)
    help: str = ""


def widgets(schema: Schema, *, files: tuple[tuple[str, str], ...] = (),
            hidden: tuple[str, ...] = ()) -> list[Widget]:
    """The schema's fields as form widgets, in declaration order (plus file inputs)."""
    out = []
    for name, f in schema.fields.items():
        if f.dump_only or name in hidden:
            continue
        meta = f.metadata or {}
        label = name.replace("_", " ").capitalize().replace("Po ", "PO ").replace("sha256", "SHA-256")
        kind, choices = "text", []
        one_of = next((v for v in _validators(f) if isinstance(v, validate.OneOf)), None)
        if isinstance(f, fields.Boolean):
            kind = "select"
            choices = [("true", "yes"), ("false", "no")]
            if name == "capital":
                label, choices = "Funding", [("true", "capital"), ("false", "operating")]
        elif one_of is not None:
            kind, choices = "select", [(str(c), str(c)) for c in one_of.choices]
        elif isinstance(f, fields.Date):
            kind = "date"
        elif isinstance(f, (shared.Money, fields.Integer)):
            kind = "number"
        elif meta.get("widget") == "password":
            kind = "password"
        elif meta.get("widget") == "textarea" or isinstance(f, fields.List) or name in _LONG:
            kind = "textarea"
        help_text = meta.get("help") or meta.get("description", "")
        if isinstance(f, shared.Lines) or name == "artifacts":
            help_text = help_text or "one per line"
        out.append(Widget(name, label, kind, bool(f.required), choices, help_text))
    for name, label in files:
        out.append(Widget(name, label, "file", False, [], "its SHA-256 is recorded in the ledger"))
    return out


def _validators(f: fields.Field) -> list[Any]:
    v = f.validate
    if v is None:
        return list(getattr(f, "validators", []))
    return list(v) if isinstance(v, (list, tuple)) else [v]
