"""The per-operation phases: schemathesis' examples, then coverage, then fuzzing of one operation,
built with `create_test` (the builder its pytest plugin and its engine share). Sampled, only
representatives of the explicit cases are sent."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.generation import overrides
from schemathesis.generation.hypothesis.builder import HypothesisTestMode
from schemathesis.specs.openapi.adapter.security import declares_security

from conformance.layers.determinism import no_mined_constants
from conformance.layers.schema.configuration import Case, operation_test
from conformance.layers.schema.findings import Finding, Tally
from conformance.layers.schema.judging import coverage_of, is_negative
from conformance.layers.schema.safety import need_destructive

if TYPE_CHECKING:
    from conformance.layers.schema.layer import SchemaLayer

__all__ = ["run_operation"]


def run_operation(layer: SchemaLayer, label: str) -> list[Finding]:
    """Examples, then coverage, then fuzzing of one operation; what it found (all recorded)."""
    operation = layer.schema.find_operation_by_label(label)
    if operation is None:
        raise KeyError(f"no operation {label!r} in the spec")
    if declares_security(operation):
        layer.tenant.need_key()
    if operation.method == "delete" or operation.path.endswith("/cancel"):
        need_destructive(layer.ctx.env)
    layer.tally = Tally()
    config = layer.schema.config
    for modes, override in _phases(layer, operation):
        # Sampled, the explicit cases are gathered first and only representatives are sent.
        gathered: list[Case] | None = [] if layer.sampled and HypothesisTestMode.EXAMPLES in modes else None
        test = operation_test(operation, modes, override, _runner(layer) if gathered is None else _gatherer(gathered))
        with no_mined_constants():
            test()
        for case in _representatives(gathered or [], random.Random(f"{config.seed}:schema:{label}")):
            _run_case(layer, case)
    return layer.tally.findings


def _phases(layer: SchemaLayer, operation: Any) -> Iterator[tuple[list[HypothesisTestMode], overrides.Override]]:
    explicit = overrides.with_config_headers(layer.schema.config, operation=operation)
    token = layer.tenant.webhook_token
    if token and any(p.name == "token" for p in operation.path_parameters):
        # With a generated token every explicit case of the webhook is a 401 that reads no body.
        explicit.path_parameters["token"] = token
    yield [HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE], explicit
    yield [HypothesisTestMode.FUZZING], overrides.with_config_headers(layer.schema.config, operation=operation)


def _runner(layer: SchemaLayer) -> Any:
    def run_case(case: Case) -> None:
        _run_case(layer, case)

    return run_case


def _run_case(layer: SchemaLayer, case: Case) -> None:
    if layer.tally.target_down:
        return
    layer.ctx.client.history.start()  # each case is a scenario of its own: a failure shows its requests
    recorder = ScenarioRecorder(label=case.operation.label)
    recorder.record_case(case=case)
    response = layer.send(case, recorder, {})
    if response is not None:
        layer.validate(case, response, recorder, {})


def _gatherer(gathered: list[Case]) -> Any:
    def gather(case: Case) -> None:
        gathered.append(case)

    return gather


def _representatives(cases: list[Case], rng: random.Random) -> list[Case]:
    """Of an operation's explicit cases, one that follows the spec and one that breaks it, each of a
    kind drawn by the seed (the kinds: the spec's examples, and each coverage scenario)."""
    groups: dict[bool, dict[str, list[Case]]] = {False: {}, True: {}}
    for case in cases:
        coverage = coverage_of(case)
        kind = str(coverage.scenario) if coverage is not None else "examples"
        groups[bool(is_negative(case))].setdefault(kind, []).append(case)
    return [rng.choice(by_kind[rng.choice(sorted(by_kind))]) for by_kind in groups.values() if by_kind]
