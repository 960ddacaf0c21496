"""RFC 9457 problem details: every JSON error has a stable `type`.

The `title` (and `detail`) may be a lazy translated string (`flask_babel.lazy_gettext`): it is
turned into text in the language of the request when the problem is answered or printed."""

from __future__ import annotations

from flask import jsonify
from flask_babel.speaklater import LazyString

from server.services.errors import DomainError

PROBLEM_BASE = "urn:cellwms:problem:"
PROBLEM_MIMETYPE = "application/problem+json"


def _plain(value):
    """`value` with every lazy string in it (also inside dicts, lists and tuples) made text."""
    if isinstance(value, LazyString):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


class Problem(DomainError):
    """An HTTP refusal made by the API or a page (a DomainError with response headers)."""

    def __init__(self, status: int, slug: str, title: str | LazyString, detail: str | LazyString | None = None, *,
                 headers: dict | None = None, **extra):
        super().__init__(status, slug, title, detail, **extra)
        self.headers = headers or {}

    @classmethod
    def of(cls, error: DomainError) -> Problem:
        return error if isinstance(error, Problem) else cls(error.status, error.slug, error.title, error.detail,
                                                            **error.extra)

    def to_dict(self) -> dict:
        body = {"type": PROBLEM_BASE + self.slug, "title": str(self.title), "status": self.status}
        if self.detail:
            body["detail"] = str(self.detail)
        body.update(_plain(self.extra))
        return body


def problem_response(problem: Problem):
    response = jsonify(problem.to_dict())
    response.status_code = problem.status
    response.mimetype = PROBLEM_MIMETYPE
    response.headers.update(problem.headers)
    if problem.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="cellwms"'
    return response


# Stable slugs for plain HTTP errors.
HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    429: "too-many-requests",
    500: "internal-error",
}
