"""Marshmallow schemas shared by the JSON API and the HTML forms.

One schema per command. `Schema().load(data)` turns JSON or form input into the keyword
arguments of the `PMOApplication` command (everything after `actor` and the project code /
item id taken from the URL), with money as `Decimal` with exactly two places, dates as
`date`, codes trimmed and checked. A refused input raises `marshmallow.ValidationError`
whose `.messages` is `{field: [message, ...]}`; `web.errors` turns it into a 422 with code
`validation` (JSON for /api/, the page's own renderer for forms).

Forms: pass `form_data(schema, request.form)` to `load()` — it keeps every value of a list
field (`getlist`) and one value otherwise. Empty strings count as "not given", so an empty
optional field is simply absent and an empty required field is reported as missing.

    kwargs = ExpenditureSchema().load(form_data(ExpenditureSchema(), request.form))
    expenditure_id = pmo.submit_expenditure(actor, code, **kwargs)

The schemas check shape and syntax; business rules (overdraw, segregation of duties,
gate order...) stay in the domain, which raises `domain.errors` errors with a field name.

The schemas live by what they describe: `values` (field types, patterns, the base schema,
`form_data`), `commands`, `queries` and `responses`; every public name is here too.
"""

from web.schemas.commands import *  # noqa: F403
from web.schemas.queries import *  # noqa: F403
from web.schemas.responses import *  # noqa: F403
from web.schemas.values import *  # noqa: F403
