"""The one place where flows are named: every flow by name, and which flow each kind of station
runs. A station kind without a flow runs `identify`."""

from __future__ import annotations

from server.models import Station, StationKind
from server.scenarios.base import Scenario
from server.scenarios.machine import FlowScenario
from server.scenarios.packing import PACKING
from server.scenarios.picking import PICKING
from server.scenarios.putaway import PUTAWAY
from server.scenarios.receiving import RECEIVING

IDENTIFY = Scenario()

FLOWS: dict[str, FlowScenario] = {flow.name: flow for flow in (RECEIVING, PUTAWAY, PICKING, PACKING)}

# Station kind -> its scenario.
SCENARIOS: dict[str, Scenario] = {StationKind.dock.value: RECEIVING, StationKind.pack.value: PACKING}


def scenario_for(station: Station | None) -> Scenario:
    return SCENARIOS.get(station.kind, IDENTIFY) if station is not None else IDENTIFY


def flow(name: str) -> FlowScenario:
    found = FLOWS.get(name)
    if found is None:
        raise KeyError(f"no flow {name!r}: one of {', '.join(sorted(FLOWS))}")
    return found
