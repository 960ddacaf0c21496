"""The error answers the OpenAPI document declares: every one is application/problem+json.

What any operation may answer is added in one place (`ProblemResponses`, an apispec plugin);
a view declares only its own further refusals with `problems(blp, {409: "why"})`. Who may call
each operation (`x-callers`, `x-roles`) comes from the view's declared access (`CallerDoc`).
"""

from apispec import BasePlugin
from marshmallow import Schema, fields

from server.auth import access_of
from server.problems import PROBLEM_MIMETYPE


class ProblemSchema(Schema):
    """RFC 9457 problem details, with the facts a refusal adds (`errors`, `available`, ...)."""

    class Meta:
        unknown = "include"

    type = fields.String(required=True, metadata={"description": "Stable type: urn:cellwms:problem:<slug>"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(metadata={"description": "Field errors by field name (validation-error)"})


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

# What every operation may answer.
COMMON = {
    400: "Malformed request: JSON syntax or nesting, Idempotency-Key, CSRF token",
    401: "No or unknown credentials",
    403: "The caller's role may not do this",
    422: "Input not accepted (validation-error, with `errors` by field)",
    503: "The database is busy (database-busy, `Retry-After`): nothing was stored, send it again",
}
WITH_PATH_ID = {404: "No such resource (or an id beyond its column)"}
WITH_BODY = {413: "The request body is larger than the server accepts"}
BODY_METHODS = {"post", "put", "patch"}
# A unique index refused a write because a concurrent twin wrote the same record first (conflict).
ON_WRITE = {409: "Conflict with the current state (a view's own slug, or `conflict`: written at the same moment elsewhere)"}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def problem_doc(description: str) -> dict:
    return {"description": description, "content": {PROBLEM_MIMETYPE: {"schema": PROBLEM_REF}}}


def problems(blp, described: dict[int, str]):
    """Declare a view's own error answers (problem+json) on top of the common ones."""
    return blp.doc(responses={str(status): problem_doc(text) for status, text in described.items()})


class ProblemResponses(BasePlugin):
    """Adds the common error answers to each operation that does not describe them itself."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            found = dict(COMMON)
            if "{" in (path or ""):
                found.update(WITH_PATH_ID)
            if method in BODY_METHODS:
                found.update(WITH_BODY)
            if method in WRITE_METHODS:
                found.update(ON_WRITE)
            responses = operation.setdefault("responses", {})
            for status, text in found.items():
                responses.setdefault(str(status), problem_doc(text))


class CallerDoc(BasePlugin):
    """Adds `x-callers` and `x-roles` to each operation, from its view's declared access."""

    def __init__(self, app):
        self.app = app

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        for method, operation in (operations or {}).items():
            access = access_of(self.app, rule.endpoint, method) if rule is not None else None
            if access is not None:
                operation.update(access.doc())
