"""The request-level guard: input that no field type sees whole.

Before any view runs, a JSON body nested deeper than `MAX_JSON_DEPTH` is refused (400, before
the parser would end in a RecursionError), and NUL or an unpaired surrogate in the query string,
the path or (for the API; pages answer their own forms) a form is a 422 problem. What a JSON body holds is checked by the field types
(`server.api.bounds`: `Int`, `Text`, `Payload`...) with each field's own bounds, and a station
event's payload by `server.scenarios.inputs` (a bad one is stored as rejected, with the reason).
Every `<int:...>` in a route fits an `Integer` column, `<bigint:...>` a `BigInteger` one.
"""

from flask import request
from werkzeug.routing import IntegerConverter

from server.core.bounds import (
    INT32_MAX,
    INT64_MAX,
    MAX_JSON_DEPTH,
    json_depth_exceeds,
    text_problem,
)
from server.problems import Problem


def _refuse(where: str, why: str) -> Problem:
    return Problem(422, "validation-error", "Input not accepted.", why, errors={where: [why]})


def check_request() -> None:
    for source, values in (("query", request.args), ("path", request.view_args or {})):
        for name, value in values.items(multi=True) if hasattr(values, "getlist") else values.items():
            why = text_problem(value) if isinstance(value, str) else None
            if why or text_problem(name):
                raise _refuse(f"{source}.{name!r}" if not why else f"{source}.{name}", why or "Bad parameter name.")
    if request.is_json:
        body = request.get_data(cache=True)
        if json_depth_exceeds(body):
            raise Problem(400, "json-too-deep", "The JSON body is nested too deeply.",
                          f"At most {MAX_JSON_DEPTH} arrays and objects inside each other.")
    elif request.path.startswith("/api/") and request.mimetype in ("application/x-www-form-urlencoded",
                                                                   "multipart/form-data"):
        # Pages check their own forms and answer with the page and its message.
        for name, value in request.form.items(multi=True):
            why = text_problem(value) or text_problem(name)
            if why:
                raise _refuse(f"form.{name}", why)


def init_guard(app) -> None:
    """Call before any route is added (the converter applies to rules made after it)."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.url_map.converters["bigint"] = BigIntConverter
    app.before_request(check_request)


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` in every route: a path id beyond an `Integer` column matches no route (404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=INT32_MAX, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class BigIntConverter(BoundedIntConverter):
    """`<bigint:...>`: a path id of a `BigInteger` column (events, jobs, media, movements)."""

    def __init__(self, map, fixed_digits=0, min=None, max=INT64_MAX, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
