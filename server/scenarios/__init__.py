"""Scenarios: the scan-driven state machines of the flows (one module per flow).

- `base`: the input, the prompt, the context, and `identify` (badges, what a code is);
- `machine`: flows declared as states with their inputs, keys and transitions, and their runner;
- `inputs`: every input stored once by its event_id and answered (`handle_inputs`);
- `registry`: the flows by name, and which flow each kind of station runs;
- one module per flow: `receiving`, `putaway`.

Scenarios call services; they run no SQL of their own.
"""

from server.scenarios.base import Context, InputError, Prompt, Scenario, StationInput
from server.scenarios.inputs import handheld_input, handle_inputs, page_input, store_failed
from server.scenarios.registry import FLOWS, IDENTIFY, SCENARIOS, flow, scenario_for

__all__ = ["FLOWS", "IDENTIFY", "SCENARIOS", "Context", "InputError", "Prompt", "Scenario", "StationInput",
           "flow", "handheld_input", "handle_inputs", "page_input", "scenario_for", "store_failed"]
