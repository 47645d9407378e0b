"""The stateful phase: scenarios along the spec's links, from calls schemathesis creates and from
calls seeded in a state a scenario cannot reach itself. Rules are added with schemathesis' own
`transition`, which is not public API (one more reason schemathesis is pinned exactly)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import hypothesis
import schemathesis
from hypothesis import strategies as st
from hypothesis.errors import Flaky, Unsatisfiable
from hypothesis.stateful import Bundle
from schemathesis.generation import GenerationMode, derive_operation_seed
from schemathesis.generation.meta import TestPhase
from schemathesis.generation.stateful.state_machine import StepInput, normalize_name
from schemathesis.specs.openapi.stateful import is_root_allowed, transition

from conformance.layers.determinism import no_mined_constants
from conformance.layers.schema.configuration import Case, Operation
from conformance.layers.schema.findings import Finding, Tally
from conformance.layers.schema.judging import still_there_check
from conformance.layers.schema.safety import need_destructive

if TYPE_CHECKING:
    from conformance.layers.schema.layer import SchemaLayer

__all__ = ["run_stateful"]

STATEFUL_STATES = ("completed",)  # seeded scenario starts: the one state a scenario cannot reach itself
PLACEHOLDER = "husky-seeded-call-"  # URL-safe: schemathesis keeps path values percent-encoded


def run_stateful(layer: SchemaLayer) -> list[Finding]:
    """`stateful_scenarios` scenarios along the spec's links, from created and from seeded calls."""
    layer.tenant.need_key()
    need_destructive(layer.ctx.env)  # every scenario goes on to cancel or delete what it made
    layer.tally = Tally()
    workflow = _workflow(layer)
    settings = hypothesis.settings(
        workflow.TestCase.settings,  # schemathesis' defaults: no shrinking, no health checks
        max_examples=layer.ctx.config.budget.stateful_scenarios,
        stateful_step_count=layer.ctx.config.budget.stateful_steps or layer.schema.config.phases.stateful.max_steps,
        database=None,
    )
    try:
        with no_mined_constants():
            workflow.run(settings=settings)
    except Unsatisfiable:
        if not layer.tally.target_down:
            raise  # every scenario rejected, yet the target answers: a suite error
    except Flaky:
        # Replaying a failing scenario, hypothesis met other answers (a target that recycles ids or
        # changes by itself): the failures as first seen are recorded already, and they are the verdict.
        if not layer.tally.findings:
            raise
    return layer.tally.findings


def _workflow(layer: SchemaLayer) -> Any:
    seed = derive_operation_seed(layer.schema.config.seed, "stateful")
    base: Any = layer.schema.as_state_machine()  # an OpenAPIStateMachine subclass
    states = [s for s in STATEFUL_STATES if layer.ctx.env.can_seed_any_state]
    roots = _seeded_roots(base, states)

    # `after_call` is not overridden: schemathesis' own records each response for the stateful
    # checks (use_after_free, ensure_resource_availability); overriding it without super() would
    # silently switch them off.
    class Workflow(base):  # type: ignore[misc]
        rule_order_seed = seed
        root_rules = base.root_rules | set(roots)
        _root_labels = base._root_labels | {label for label, _ in roots.values()}

        def setup(self) -> None:
            self.seeded: dict[str, str] = {}  # state -> this scenario's own call in it
            layer.ctx.client.history.start()  # a failure's reproduction: this scenario's requests

        def call(self, case: Case, **kwargs: Any) -> schemathesis.Response:
            if layer.tally.target_down:
                hypothesis.reject()
            _materialise(layer, case, self.seeded)
            response = layer.send(case, self.recorder, kwargs)
            if response is None:
                hypothesis.reject()  # no answer (recorded): this scenario ends, the next one starts
            return response

        def validate_response(self, response: schemathesis.Response, case: Case, *args: Any, **kwargs: Any) -> None:
            layer.validate(case, response, self.recorder, kwargs, (still_there_check(self.recorder),))

    for name, (_, rule) in roots.items():
        setattr(Workflow, name, rule)
    return hypothesis.seed(seed)(Workflow)


def _materialise(layer: SchemaLayer, case: Case, seeded: dict[str, str]) -> None:
    """Swap a seeded start's placeholder id for a call seeded now, fresh for this scenario.

    Fresh calls keep every scenario independent of the ones before it: a call an earlier
    scenario deleted would answer differently, which Hypothesis rejects as a flaky strategy.
    """
    params = case.path_parameters or {}
    placeholder = params.get("call_id")
    if isinstance(placeholder, str) and placeholder.startswith(PLACEHOLDER):
        state = placeholder.removeprefix(PLACEHOLDER)
        if state not in seeded:
            seeded[state] = layer.ctx.env.seed_call(layer.tenant, state)
        params["call_id"] = seeded[state]


def _seeded_roots(machine: Any, states: list[str]) -> dict[str, tuple[str, Any]]:
    """Extra scenario starts: a linked GET or DELETE of a call id, on a call seeded in a state.

    Schemathesis starts scenarios only from operations that need no id (here: create, and cancel
    with a drawn id), and a call it creates stays queued, so no scenario of its own deletes a
    call. Started on a seeded completed call, the links take it on: GET -> DELETE -> GET, which
    `use_after_free` judges, and DELETE -> GET, which it cannot (its DELETE followed no link):
    `still_there_check` does. The id is a placeholder naming the state until the step is sent
    (`_materialise`).
    """
    roots: dict[str, tuple[str, Any]] = {}
    for label, transitions in machine._transitions.operations.items():
        operation = machine.schema.find_operation_by_label(label)
        names = {p.name for p in operation.path_parameters}
        if not states or operation.method not in ("get", "delete") or names != {"call_id"} or not transitions.outgoing:
            continue
        cases = st.sampled_from(states).flatmap(partial(_seeded_case, operation))
        name = normalize_name(f"SEEDED -> {label}")
        rule = transition(
            name=name,
            target=Bundle("catch_all"),
            input=cases.map(StepInput.initial),
            precondition=is_root_allowed(label),
        )
        roots[name] = (label, rule)
    return roots


def _seeded_case(operation: Operation, state: str) -> st.SearchStrategy[Case]:
    return operation.as_strategy(
        generation_mode=GenerationMode.POSITIVE,
        phase=TestPhase.STATEFUL,
        path_parameters={"call_id": PLACEHOLDER + state},
    )
