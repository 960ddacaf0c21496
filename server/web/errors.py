"""Error pages for people (401, 403, 404, 500): the site's own, translated, with a way back.
The API (/api/...) and JSON calls keep application/problem+json."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError

from server.extensions import db
from server.problems import HTTP_SLUGS, Problem, problem_response

API_PREFIX = "/api/"
PAGES = {
    401: (_l("Sign in first"), _l("This page is for signed-in workers.")),
    403: (_l("Not for your role"), _l("Your role may not open this page. Ask a supervisor if you need it.")),
    404: (_l("Page not found"), _l("There is no page at this address.")),
    500: (_l("Something went wrong"), _l("The server could not do this. Try again; if it happens again, tell a supervisor.")),
}

# A write a unique index refused because a concurrent twin wrote the same record first.
CONFLICT = (_l("Done at the same moment elsewhere"),
            _l("The same record was just written by another request, so nothing was changed here. Reload to see it."))


def wants_problem() -> bool:
    """An API or JSON call (not a person's page view)."""
    if request.path.startswith(API_PREFIX) or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best is not None and best != "text/html"


def on_http_error(error: HTTPException):
    status = error.code or 500
    if status >= 500:
        db.session.rollback()
    if wants_problem():
        return problem_response(Problem(status, HTTP_SLUGS.get(status, "http-error"), error.name, error.description))
    title, message = PAGES[status]
    return render_template("error.html", status=status, title=title, message=message,
                           sound="error"), status


def init_errors(app) -> None:
    for status in PAGES:
        app.register_error_handler(status, on_http_error)
    app.register_error_handler(InternalServerError, on_http_error)


def conflict_response():
    """409 for a write that a unique index refused because a concurrent twin wrote the same
    record first: nothing of this request was stored (its transaction is rolled back)."""
    title, message = CONFLICT
    if wants_problem():
        return problem_response(Problem(409, "conflict", str(title), str(message)))
    return render_template("error.html", status=409, title=title, message=message, sound="error"), 409
