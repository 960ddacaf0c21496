"""The stations API's blueprint, the station-token guard and the documented refusals."""

import inspect
import logging
from functools import wraps

from flask_smorest import Blueprint

from server.api import docs
from server.auth import STATION, Access, current_principal
from server.models import Role, Station
from server.problems import Problem

log = logging.getLogger("cellwms.stations")

blp = Blueprint("station_api", __name__, url_prefix="/api/v1",
                description="Station agents (events, jobs, heartbeat, media) and station health")

SUPERVISORS = (Role.supervisor,)


def station_token_required(view):
    """Admit a station's own token only: 401 without credentials, 403 for users."""

    @wraps(view)
    def guarded(*args, **kwargs):
        principal = current_principal()
        if principal is None:
            raise Problem(401, "unauthorized", "Send the station's bearer token.")
        if principal.station is None:
            raise Problem(403, "station-token-required", "Only a station agent's token may call this.")
        return view(*args, **kwargs)

    guarded.access = Access(STATION, api=True)
    guarded.__doc__ = f"{inspect.cleandoc(view.__doc__ or '')}\n\nCaller: a station's token.".strip()
    return guarded


def problems(described: dict[int, str]):
    """Document error answers as application/problem+json."""
    return docs.problems(blp, described)


TOKEN_PROBLEMS = {401: "No or unknown token", 403: "Not a station's token (station-token-required)"}


def _me() -> Station:
    return current_principal().station
