"""JSON API /api/v1 (flask-smorest, OpenAPI at /api/v1/openapi.json).

Each API request is one unit of work: views never commit; a successful response commits,
any error rolls back, so bad input never reaches the database half-written. A mutating call
with an `Idempotency-Key` header stores its response in the same transaction, and a retry with
the same key gets that stored response instead of being applied again.
"""

import hashlib
import json
import logging
from functools import wraps
from http import HTTPStatus

from flask import Response, current_app, g, request
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException

from server.api.docs import CallerDoc, ProblemResponses, ProblemSchema
from server.auth import current_principal, public
from server.extensions import db
from server.models import IdempotencyRecord
from server.problems import HTTP_SLUGS, PROBLEM_MIMETYPE, Problem, problem_response
from server.services.db_errors import RETRY_AFTER_S, is_transient, is_unique_violation, sqlstate_of
from server.services.db_locks import advisory_lock_id
from server.services.errors import DomainError
from server.web.errors import conflict_response

API_PREFIX = "/api/v1"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
IDEMPOTENCY_HEADER = "Idempotency-Key"
STORED_HEADERS = ("Content-Type", "Location")
log = logging.getLogger(__name__)


class ProblemApi(Api):
    """flask-smorest Api whose errors are application/problem+json, and documented so (no catch-all
    `default` answer: each operation lists the statuses it gives, see `server.api.docs`)."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self):
        # flask-smorest's named answers (UNPROCESSABLE_ENTITY for @arguments...) as problem+json.
        for status in HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE if status >= 400 else self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)

    def handle_http_exception(self, error: HTTPException):
        return problem_response(problem_from_http(error))


def _open_document(app, endpoint: str) -> None:
    """The OpenAPI document is public: it describes the API and holds no data."""
    serve = app.view_functions[endpoint]

    @wraps(serve)
    def document():
        return serve()

    app.view_functions[endpoint] = public(document)


def problem_from_http(error: HTTPException) -> Problem:
    status = error.code or 500
    slug = HTTP_SLUGS.get(status, "http-error")
    data = getattr(error, "data", None) or {}
    extra = {}
    messages = data.get("messages")
    if messages:
        # webargs puts field errors under their location ("json", "query", ...).
        errors = messages.get("json", messages) if isinstance(messages, dict) else messages
        extra["errors"] = errors
    detail = data.get("message") or error.description
    if status == 400 and "JSON" in f"{detail} {messages}":
        slug = "malformed-json"
    return Problem(status, slug, error.name, detail, **extra)


api = ProblemApi()


def init_api(app) -> None:
    api.init_app(app, spec_kwargs={"info": {"description": "cellwms warehouse API"},
                                   "extra_plugins": [ProblemResponses(), CallerDoc(app)]})
    _open_document(app, "api-docs.openapi_json")
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearer": []}]

    from server.api import (
        catalog,
        evidence,
        inbound,
        intake,
        kpi,
        orders,
        people,
        putaway,
        scan,
        stations,
        stock,
        totes,
        warehouse,
        waves,
        webhooks,
    )

    for module in (warehouse, catalog, stock, people, scan, stations, inbound, putaway, kpi, orders, intake,
                   webhooks, totes, waves, evidence):
        api.register_blueprint(module.blp)

    from server.api import boxes, parcels  # box types and parcels (packing)

    api.register_blueprint(boxes.blp)
    api.register_blueprint(parcels.blp)

    @app.errorhandler(DomainError)
    def on_problem(error: DomainError):
        db.session.rollback()
        return problem_response(Problem.of(error))

    @app.errorhandler(DBAPIError)
    def on_database_error(error: DBAPIError):
        if is_unique_violation(error):
            db.session.rollback()
            return conflict_response()
        if not is_transient(error):
            raise error  # a bug: the usual 500
        db.session.rollback()
        return transient_response(error)

    @app.errorhandler(CSRFError)
    def on_csrf(error: CSRFError):
        db.session.rollback()
        if request.path.startswith(API_PREFIX):
            return problem_response(Problem(400, "csrf", "Missing or invalid CSRF token.", error.description))
        return error.description, 400

    @app.errorhandler(404)
    def on_not_found(error):
        if request.path.startswith(API_PREFIX):
            return problem_response(problem_from_http(error))
        return error

    @app.before_request
    def replay_idempotent_call():
        if not _is_api_mutation():
            return None
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if not key:
            return None
        principal = current_principal()
        if principal is None:
            return None  # the view answers 401
        if len(key) > 200:
            raise Problem(400, "bad-idempotency-key", "Idempotency-Key is longer than 200 characters.")
        _hold_key(principal.key, key)
        record = _find_record(principal.key, key)
        return _replay(record) if record is not None else None

    @app.after_request
    def finish_unit_of_work(response: Response):
        if not request.path.startswith(API_PREFIX):
            return response
        if response.status_code >= 400 or request.method not in MUTATING:
            db.session.rollback()
            return response
        key = request.headers.get(IDEMPOTENCY_HEADER)
        principal = current_principal() if key else None
        if key and principal is not None and not response.headers.get("X-Idempotent-Replay"):
            db.session.add(
                IdempotencyRecord(
                    principal=principal.key,
                    key=key,
                    method=request.method,
                    path=request.path,
                    request_hash=_request_hash(),
                    status_code=response.status_code,
                    response_body=_stored_body(response),
                    response_headers={h: response.headers[h] for h in STORED_HEADERS if h in response.headers},
                )
            )
        try:
            db.session.commit()
        except IntegrityError as error:
            # A concurrent call with the same key won the race: answer with its response.
            db.session.rollback()
            record = _find_record(principal.key, key) if key and principal else None
            if record is not None:
                return _replay(record)
            if is_unique_violation(error):
                return conflict_response()
            raise
        except DBAPIError as error:
            if not is_transient(error):
                raise
            db.session.rollback()
            return transient_response(error)
        return response


def transient_response(error: DBAPIError) -> Response:
    """503 problem+json with Retry-After for a deadlock, serialization failure, lock timeout or
    lost connection: nothing was stored, the same request succeeds when sent again."""
    log.warning("transient database error (%s) on %s %s: answered 503", sqlstate_of(error) or
                type(getattr(error, "orig", error)).__name__, request.method, request.path)
    return problem_response(Problem(
        503, "database-busy", "The database is busy: nothing was stored. Send the request again.",
        headers={"Retry-After": str(RETRY_AFTER_S)}, retry_after=RETRY_AFTER_S,
    ))


def _is_api_mutation() -> bool:
    return request.method in MUTATING and request.path.startswith(API_PREFIX)


def _stored_body(response: Response) -> str:
    """The response body to keep for replays, without the secrets a view named in g.idempotency_redact."""
    body = response.get_data(as_text=True)
    redact = g.get("idempotency_redact")
    if not redact:
        return body
    data = json.loads(body)
    return json.dumps({k: (None if k in redact else v) for k, v in data.items()})


def _request_hash() -> str:
    body = request.get_data(cache=True) or b""
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + body).hexdigest()


def _hold_key(principal_key: str, key: str) -> None:
    """One call per (principal, key) at a time: a transaction-level advisory lock on PostgreSQL,
    held until this request commits or rolls back. A twin sent at the same moment waits here and
    then finds the first call's stored response (a replay) instead of running the view again and
    failing on a unique index inside it. SQLite needs none: a write transaction there already
    holds the database's write lock, so twins run one after the other."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    # The wait is bounded (CELLWMS_IDEMPOTENCY_WAIT_MS): past it PostgreSQL raises lock_not_available,
    # answered 503 with Retry-After like any passing conflict. The view's own locks keep the default.
    wait_ms = int(current_app.config.get("CELLWMS_IDEMPOTENCY_WAIT_MS", 10000))
    db.session.execute(text(f"SET LOCAL lock_timeout = {max(wait_ms, 1)}"))
    db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": idempotency_lock_id(principal_key, key)})
    db.session.execute(text("SET LOCAL lock_timeout = DEFAULT"))


def idempotency_lock_id(principal_key: str, key: str) -> int:
    """The advisory lock (a signed 64-bit number) that one (principal, Idempotency-Key) takes."""
    return advisory_lock_id("cellwms-idempotency", principal_key, key)


def _find_record(principal_key: str, key: str) -> IdempotencyRecord | None:
    return db.session.execute(
        db.select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal_key, IdempotencyRecord.key == key
        )
    ).scalar_one_or_none()


def _replay(record: IdempotencyRecord) -> Response:
    if record.request_hash != _request_hash():
        raise Problem(
            422,
            "idempotency-key-reused",
            "This Idempotency-Key was used for a different request.",
            f"It was first used for {record.method} {record.path}.",
        )
    response = Response(record.response_body, status=record.status_code)
    for name, value in (record.response_headers or {}).items():
        response.headers[name] = value
    response.headers["X-Idempotent-Replay"] = "true"
    return response


