"""Flows as declared state machines.

A flow declares its states as data: for each, the instruction it shows, the inputs and keys it
takes and the states each may lead to. The runner (`FlowScenario`) reads the declarations to
route an input to its step, to refuse what the state does not take, to check that a step went
where it was declared to go, and to tell the page which keys to show; `diagram()` draws them.

A step is a method of the flow: `step(ctx, state, input) -> Answer`, where `state` is the flow's
typed state (a dataclass, `Flow.data`) kept per (session, flow) and `input` the classified scan
or the key's payload. A service's DomainError inside a step rolls the step back (a savepoint)
and answers with the error's message; the state stays where it was.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flask_babel import force_locale
from flask_babel import lazy_gettext as _

from server.extensions import db
from server.models import HandheldSession, Station, StationSession, User
from server.scenarios.base import Context, Prompt, Scenario
from server.services import flow_states
from server.services.errors import DomainError
from server.services.scan import Classification

ANY = "*"  # a scan of any kind not named by another transition of the state


@dataclass(frozen=True)
class On:
    """One transition: an input the state takes, the step that handles it, where it may lead.

    `input` is "scan" (with `what`: the kind of code, or ANY), "key" (with `what`: the key's
    name, `label` its caption, `params` its fields, `when` the name of a predicate of the
    flow's state that must hold for the key to be shown and taken), or "photo"."""

    input: str
    what: str
    step: str
    to: tuple[str, ...]
    label: Any = ""
    params: tuple[str, ...] = ()
    when: str = ""
    note: str = ""


# A step that refuses (an error answer) stays where it was: `to` names where it goes otherwise.
def scan(what: str, step: str, *to: str, note: str = "") -> On:
    return On("scan", what, step, tuple(dict.fromkeys(to)), note=note)


def key(name: str, label, step: str, *to: str, params: tuple[str, ...] = (), when: str = "", note: str = "") -> On:
    return On("key", name, step, tuple(dict.fromkeys(to)), label=label, params=params, when=when, note=note)


def photo(step: str, *to: str, note: str = "") -> On:
    return On("photo", "photo", step, tuple(dict.fromkeys(to)), note=note)


@dataclass(frozen=True)
class State:
    name: str
    instruction: Any  # what the worker is asked to do now (lazy text)
    on: tuple[On, ...] = ()
    note: str = ""  # what the state is, for the diagram's reader

    def key_transitions(self) -> tuple[On, ...]:
        return tuple(t for t in self.on if t.input == "key")

    def transition(self, input_kind: str, what: str) -> On | None:
        same = [t for t in self.on if t.input == input_kind]
        return next((t for t in same if t.what == what), None) or next((t for t in same if t.what == ANY), None)


@dataclass
class Answer:
    """What a step answers: the prompt's words and the state the flow goes to."""

    to: str
    message: Any
    sound: str = "ok"
    title: Any = ""
    details: list = field(default_factory=list)
    screen: dict = field(default_factory=dict)


class FlowState:
    """Base of a flow's typed state: a dataclass whose fields are kept as JSON. `VERSION` is
    raised when the fields change meaning; a state stored by another version starts over."""

    VERSION: ClassVar[int] = 1

    def as_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, stored: dict):
        names = {f.name: f for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in stored.items() if k in names})
        except TypeError:
            return cls()


class Flow:
    """A flow's declarations: its states (the first is where it starts) and its state type."""

    def __init__(self, name: str, states: tuple[State, ...], data: type[FlowState], title):
        self.name, self.data, self.title = name, data, title
        self.states = {s.name: s for s in states}
        self.initial = states[0].name
        for state in states:
            for t in state.on:
                unknown = [to for to in t.to if to not in self.states]
                if unknown or not t.to:
                    raise ValueError(f"{name}.{state.name}: {t.input} {t.what} leads to unknown {unknown}")

    def key_params(self) -> dict[str, tuple[str, ...]]:
        """Every key of the flow and its fields (what a page may send)."""
        found: dict[str, tuple[str, ...]] = {}
        for state in self.states.values():
            for t in state.key_transitions():
                found.setdefault(t.what, t.params)
        return found

    def reference(self) -> str:
        """The flow's page section for docs/flows/: the diagram and a table of its states."""
        rows = ["| state | the worker is asked | scans | keys |", "|---|---|---|---|"]
        for state in self.states.values():
            scans = ", ".join("any other" if t.what == ANY else t.what for t in state.on if t.input == "scan")
            keys = ", ".join(f"`{t.what}`" + (f" (when {t.when.replace('_', ' ')})" if t.when else "")
                             for t in state.key_transitions())
            with force_locale("en"):
                asked = str(state.instruction)
            rows.append(f"| `{state.name}` | {asked} | {scans or '-'} | {keys or '-'} |")
        return "```mermaid\n" + self.diagram() + "```\n\n" + "\n".join(rows) + "\n"

    def diagram(self) -> str:
        """The flow as a Mermaid state diagram, from the declarations."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for state in self.states.values():
            if state.note:
                lines.append(f"    {state.name} : {state.note}")
        for state in self.states.values():
            edges: dict[str, list[str]] = {}  # one arrow per pair of states, naming every input on it
            for t in state.on:
                what = "any other scan" if t.what == ANY else f"scan {t.what}" if t.input == "scan" else \
                    f"key {t.what}" if t.input == "key" else t.input
                for to in t.to:
                    edges.setdefault(to, []).append(what)
            lines.extend(f"    {state.name} --> {to} : {', '.join(whats)}" for to, whats in edges.items())
        return "\n".join(lines) + "\n"


class FlowScenario(Scenario):
    """Runs a declared flow: badge and device inputs as `identify` does, scans, keys and photos
    by the current state's transitions."""

    flow: Flow

    @property
    def name(self) -> str:
        return self.flow.name

    # --- state ---------------------------------------------------------------------------

    def load(self, ctx: Context) -> tuple[str, FlowState]:
        row = flow_states.find(ctx.session_key, self.flow.name)
        if row is None or row.version != self.flow.data.VERSION or row.state not in self.flow.states:
            return self.flow.initial, self.flow.data()
        return self.settle(ctx, row.state, self.flow.data.from_json(row.data or {}))

    def settle(self, ctx: Context, state: str, data: FlowState) -> tuple[str, FlowState]:
        """Where the flow really is, when the world moved meanwhile (a delivery closed by
        someone else). Flows override it; by default the stored state stands."""
        return state, data

    def keys_of(self, state: str, data: FlowState) -> list[dict]:
        return [{"key": t.what, "label": t.label, "params": list(t.params)}
                for t in self.flow.states[state].key_transitions() if not t.when or getattr(data, t.when)()]

    def view(self, *, user: User | None = None, station: Station | None = None) -> dict:
        """The flow now, for a page drawn before any input: state, instruction, keys, screen. Of
        `user`'s handheld, or of `station` when given."""
        session = StationSession(station_id=station.id) if station is not None else HandheldSession(user_id=user.id)
        ctx = Context(station=station, session=session, user=user, event=None)
        state, data = self.load(ctx)
        return {"state": state, "instruction": str(self.flow.states[state].instruction),
                "keys": [{**k, "label": str(k["label"])} for k in self.keys_of(state, data)],
                "screen": self.screen(ctx, state, data), "data": data}

    def screen(self, ctx: Context, state: str, data: FlowState) -> dict:
        return {}

    # --- inputs --------------------------------------------------------------------------

    def on_code(self, ctx: Context, result: Classification) -> Prompt:
        return self.run(ctx, "scan", str(result.kind), result)

    def on_photo(self, ctx: Context, payload: dict) -> Prompt | None:
        state, _data = self.load(ctx)
        if self.flow.states[state].transition("photo", "photo") is None:
            return super().on_photo(ctx, payload)
        return self.run(ctx, "photo", "photo", payload)

    def on_button(self, ctx: Context, payload: dict) -> Prompt | None:
        if payload.get("key") in ("sign_in", "sign_out"):  # the station's own keys
            return super().on_button(ctx, payload)
        return self.run(ctx, "key", str(payload.get("key")), payload)

    def run(self, ctx: Context, input_kind: str, what: str, value) -> Prompt:
        state, data = self.load(ctx)
        declared = self.flow.states[state]
        transition = declared.transition(input_kind, what)
        if transition is not None and transition.when and not getattr(data, transition.when)():
            transition = None
        if transition is None:
            message = _("This key does nothing here.") if input_kind == "key" else \
                _("%(what)s: not expected now.", what=value.message) if input_kind == "scan" else \
                _("Not expected now.")
            return self._prompt(ctx, state, data, Answer(state, message, "error", details=[declared.instruction]))
        if (refusal := self.refuse(ctx, state, data, transition)) is not None:
            return self._prompt(ctx, state, data, refusal)
        before = dataclasses.replace(data)
        ctx.state = state
        try:
            with db.session.begin_nested():
                answer = getattr(self, transition.step)(ctx, data, value)
        except DomainError as error:  # the savepoint rolled the step back: the state stays as it was
            details = [error.detail] if error.detail else []
            return self._prompt(ctx, state, before, Answer(state, error.title, "error", details=details,
                                                            screen={"problem": error.slug}))
        if answer.to not in transition.to and not (answer.sound == "error" and answer.to == state):
            raise RuntimeError(f"{self.flow.name}.{state}: step {transition.step} went to undeclared {answer.to}")
        flow_states.save(ctx.session_key, self.flow.name, answer.to, self.flow.data.VERSION, data.as_json())
        return self._prompt(ctx, answer.to, data, answer)

    def refuse(self, ctx: Context, state: str, data: FlowState, transition: On) -> Answer | None:
        """An answer that refuses the transition before its step runs (nobody signed in), or None."""
        return None

    def _prompt(self, ctx: Context, state: str, data: FlowState, answer: Answer) -> Prompt:
        screen = {**self.screen(ctx, state, data), **answer.screen}
        return Prompt(answer.message, answer.sound, title=answer.title or self.flow.title, details=list(answer.details),
                      screen=screen, state=state, keys=self.keys_of(state, data), scenario=self.flow.name)
