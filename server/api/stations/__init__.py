"""API: the station agent's side of docs/station-protocol.md, and what supervisors see of stations.

`/stations/me/...` is for a station's own token only: events in batches (each `event_id` stored
once), device jobs by long-poll, heartbeats, and photos and clips uploaded in resumable chunks.
Supervisors queue jobs, read a station's recent events and jobs, its health, and its media.

One blueprint (common), its routes by topic: events, jobs, health, media; schemas apart.
"""

from server.api.stations import events, health, jobs, media  # noqa: F401  (their routes join the blueprint)
from server.api.stations.common import blp

__all__ = ["blp"]
