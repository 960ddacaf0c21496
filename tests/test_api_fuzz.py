"""schemathesis over /api/v1/openapi.json (issue 12): every operation with a fixed seed and a
bounded number of examples (valid and invalid input, schemathesis' coverage cases, other methods),
on SQLite and PostgreSQL. Every answer: no 5xx; a 4xx is application/problem+json; the status is
one the operation declares (answers to methods the operation does not have aside: 405, OPTIONS).

CELLWMS_FUZZ_EXAMPLES sets the examples per operation (default 10); CELLWMS_FUZZ_TALLY=FILE writes
the answers counted per operation and status to FILE as JSON (docs/testing.md)."""

import json
import os
import tempfile
from collections import Counter

import pytest
import schemathesis
from flask import g
from hypothesis import HealthCheck, settings

from server import create_app
from server.problems import PROBLEM_MIMETYPE
from tests import factories as f

SEED = 20261202
MAX_EXAMPLES = int(os.environ.get("CELLWMS_FUZZ_EXAMPLES", "10"))
STATION_ONLY = "Caller: a station's token."
TALLY: Counter = Counter()


def _load_schema():
    """The OpenAPI document the app serves (it does not depend on the database)."""
    folder = tempfile.mkdtemp(prefix="cellwms-fuzz-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/spec.db", "INSTANCE_PATH": folder,
                      "TESTING": True, "SECRET_KEY": "fuzz"})
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=schemathesis.Config(seed=SEED))


# Media chunks (PATCH /stations/me/media/{id}) are raw bytes.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
schema = _load_schema()


@pytest.fixture
def callers(db):
    """A warehouse with cells and a SKU; a station's token and an admin's API token, as real clients."""
    wh, _, _, _ = f.stocked_warehouse()
    _, station = f.station(wh, code="PACK-1", kind="pack")
    admin = f.token_for(f.user("root", roles=("admin",), password="secret-123"))
    return {"station": station, "admin": admin}


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_fuzz(case, app, callers):
    operation = case.operation
    station_only = STATION_ONLY in (operation.definition.raw.get("description") or "")
    if operation.path == "/api/v1/stations/me/jobs" and str((case.query or {}).get("wait", "0")).isdigit():
        case.query = {**(case.query or {}), "wait": 0}  # the long-poll answers at once (default: 25 s)
    g.__dict__.clear()  # as in production, nothing cached in `g` from the previous request
    response = case.call(app=app, headers=callers["station" if station_only else "admin"])
    status = response.status_code
    TALLY[(operation.label, status)] += 1
    content_type = response.headers.get("content-type", [""])[0]
    own_method = case.method.upper() == operation.method.upper()
    declared = set(operation.definition.raw.get("responses", {}))
    where = f"{case.method.upper()} {case.formatted_path} answered {status}: {response.text[:500]}"
    assert status < 500, where
    assert not 400 <= status < 500 or content_type.startswith(PROBLEM_MIMETYPE), f"not problem+json: {where}"
    assert not own_method or str(status) in declared, f"not declared ({sorted(declared)}): {where}"


def teardown_module():
    path = os.environ.get("CELLWMS_FUZZ_TALLY")
    if path:
        with open(path, "w") as out:
            json.dump([[label, status, n] for (label, status), n in sorted(TALLY.items())], out, indent=1)
