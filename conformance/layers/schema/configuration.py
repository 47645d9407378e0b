"""The schema layer's schemathesis config: the spec loaded with this run's seed, target, budget,
organisation A's key, and the real ids (seeded calls, the webhook token) generation draws from;
and the hypothesis test of one operation's phases, built as schemathesis' own engine builds it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import schemathesis
from schemathesis.core.result import Ok
from schemathesis.generation import derive_operation_seed, overrides
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test

from conformance.config import Budget
from conformance.contract._resources import spec_path
from conformance.errors import NotExercised

if TYPE_CHECKING:
    from conformance.layers.context import Context

Case = schemathesis.Case[Any]
Operation = schemathesis.APIOperation[Any, Any, Any, Any]

__all__ = [
    "SAMPLED_SEEDED_STATES",
    "SEEDED_STATES",
    "Case",
    "Operation",
    "layer_config",
    "operation_labels",
    "operation_test",
    "seed_calls",
]

SEEDED_STATES = ("queued", "initiated", "ringing", "in_progress", "failed", "cancelled") + ("completed",) * 5
SAMPLED_SEEDED_STATES = ("completed",)  # the budget's breadth "sample": the state in which every operation succeeds
DICTIONARY_PROBABILITY = {"call_id": 0.5, "token": 0.8}
BINDINGS = {"call_id": ("path.call_id", "body.data.call_id"), "token": ("path.token",)}  # the webhook's too


def operation_labels() -> list[str]:
    """`METHOD /path` of every operation of the spec, in spec order (test ids; no target needed)."""
    schema = schemathesis.openapi.from_path(spec_path(), config=schemathesis.Config())
    return [operation.label for operation in _operations(schema)]


def _operations(schema: schemathesis.BaseSchema) -> Iterator[Operation]:
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise result.err()  # the bundled spec is valid (tests/test_specs.py): a packaging bug
        yield result.ok()


def layer_config(
    *,
    seed: int,
    base_url: str | None,
    timeout: float,
    budget: Budget,
    key: str | None,
    webhook_token: str | None,
    call_ids: list[str],
) -> schemathesis.Config:
    """The layer's schemathesis config: the run's seed, target and budget, organisation A's key, and
    the real ids (seeded calls, the webhook token) generation draws from."""
    sampled = budget.breadth == "sample"
    data: dict[str, Any] = {
        "seed": seed,
        "base-url": base_url,
        "request-timeout": timeout,
        "suppress-health-check": ["all"],  # a slow or filtered generation is no fault of the target
        "generation": {
            # Fuzzing draws from both: twice the budget is about `schema_examples` of each (sampled:
            # `schema_examples` in all, the explicit representatives having one of each already).
            "mode": "all",
            "max-examples": (1 if sampled else 2) * budget.schema_examples,
            "database": "none",  # no replay of earlier failures: the same seed sends the same requests
            "no-shrink": True,  # nothing raises into Hypothesis anyway (see the package docstring)
        },
        "output": {"sanitization": {"enabled": False}},  # `render_curl` writes secrets as ${NAME}
        "dictionaries": {},
        "parameters": {},
    }
    if key:
        data["auth"] = {"openapi": {"bearerAuth": {"bearer": key}}}
    for name, values in {"call_id": call_ids, "token": [webhook_token] if webhook_token else []}.items():
        if values:  # half the generated ids (most tokens) are real ones: fuzzing reaches real calls
            data["dictionaries"][name] = {"values": values}
            for where in BINDINGS[name]:
                data["parameters"][where] = {"dictionary": name, "probability": DICTIONARY_PROBABILITY[name]}
    return schemathesis.Config.from_dict(data)


def operation_test(
    operation: Operation, modes: list[HypothesisTestMode], override: overrides.Override, test_func: Any
) -> Any:
    """The hypothesis test of one operation's phases (`modes`), calling `test_func` with each case."""
    config = operation.schema.config
    return create_test(
        operation=operation,
        test_func=test_func,
        config=HypothesisTestConfig(
            project=config,
            modes=modes,
            settings=config.get_hypothesis_settings(operation=operation, phase="fuzzing", apply_ci_profile=False),
            apply_ci_profile=False,
            seed=derive_operation_seed(config.seed, operation.label),
            override=override,
        ),
    )


def seed_calls(ctx: Context, states: tuple[str, ...]) -> list[str]:
    """Calls of organisation A in each of `states` this environment can seed (none without a way in)."""
    if ctx.env.a.key is None and not ctx.env.can_seed_any_state:
        return []
    ids = []
    for state in states:
        try:
            ids.append(ctx.env.seed_call(ctx.env.a, state))
        except NotExercised:
            continue
    return ids
