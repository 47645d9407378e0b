"""The schema layer's floor: what schemathesis and hypothesis take to generate its cases, with
nothing sent, against one plain request to the bundled mock, side by side in one run.

For each budget, every operation's two per-operation phases are built and run as the schema layer
builds them (`layer_config` and `operation_test` of `conformance.layers.schema`: the seed, `mode:
all`, the budget's max examples, the dictionaries of real ids, here placeholder ids of the same
number; the explicit phase without the real webhook token the layer puts in its path), but the
test function only collects the cases it is given. The stateful phase is left out (its steps depend on
the answers), so the figures are a lower bound of the layer's generation. In the same run a plain
httpx loop sends GETs to a bundled mock (real uvicorn on a free loopback port), one after the
other: the raw round trip. Printed: cases, milliseconds of generation per case, and how many raw
round trips one case's generation costs.
Run: `nox -s bench` or `python benchmarks/generation_floor.py [--budgets quick,default] [--repeat 3]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

import httpx
import schemathesis
from schemathesis.generation import overrides
from schemathesis.generation.hypothesis.builder import HypothesisTestMode

from conformance.config import BUDGETS, DEFAULT_SEED
from conformance.contract._resources import spec_path
from conformance.layers.determinism import no_mined_constants
from conformance.layers.schema import (
    SAMPLED_SEEDED_STATES,
    SEEDED_STATES,
    layer_config,
    operation_labels,
    operation_test,
)
from conformance.mock import MockConfig, MockServer

PHASES = {
    "explicit": [HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE],
    "fuzzing": [HypothesisTestMode.FUZZING],
}
RAW_REQUESTS = 2000


def placeholder_config(budget: str) -> schemathesis.Config:
    """The schema layer's schemathesis config for `budget`, with placeholder ids and credentials."""
    chosen = BUDGETS[budget]
    states = SAMPLED_SEEDED_STATES if chosen.breadth == "sample" else SEEDED_STATES
    return layer_config(
        seed=DEFAULT_SEED,
        base_url="http://127.0.0.1:9",  # never contacted
        timeout=10.0,
        budget=chosen,
        key="sk_test_" + "0" * 40,
        webhook_token="whk_" + "0" * 40,
        call_ids=[f"call_{i:032x}" for i in range(len(states))],
    )


def _collector(cases: list[Any]) -> Any:
    def collect(case: Any) -> None:  # a function of its own: hypothesis wraps it with `given`
        cases.append(case)

    return collect


def generate(budget: str) -> dict[str, tuple[int, float]]:
    """Phase -> (cases, seconds) of generating every operation's cases of `budget`, nothing sent."""
    schema = schemathesis.openapi.from_path(spec_path(), config=placeholder_config(budget))
    config = schema.config
    totals = dict.fromkeys(PHASES, (0, 0.0))
    for label in operation_labels():
        operation = schema.find_operation_by_label(label)
        assert operation is not None
        for phase, modes in PHASES.items():
            cases: list[Any] = []
            started = time.perf_counter()
            test = operation_test(
                operation, modes, overrides.with_config_headers(config, operation=operation), _collector(cases)
            )
            with no_mined_constants():  # as the schema layer draws
                test()
            seconds = time.perf_counter() - started
            done, spent = totals[phase]
            totals[phase] = (done + len(cases), spent + seconds)
    return totals


def raw_round_trip() -> float:
    """Seconds per request of a plain httpx loop of GETs to a fresh bundled mock."""
    with MockServer(MockConfig(fixtures_token="generation-floor")) as server, httpx.Client() as client:
        url = f"{server.url}/v1/calls/call_{'0' * 32}"
        client.get(url)  # the connection
        started = time.perf_counter()
        for _ in range(RAW_REQUESTS):
            client.get(url)
        return (time.perf_counter() - started) / RAW_REQUESTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="quick,default")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (the median)")
    args = parser.parse_args()
    raw = statistics.median(raw_round_trip() for _ in range(args.repeat))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; median of {args.repeat}")
    print(f"raw round trip (plain httpx GET to the bundled mock): {raw * 1000:.2f} ms")
    print(f"{'budget':<9} {'phase':<9} {'cases':>6} {'seconds':>7} {'ms/case':>7} {'round trips/case':>16}")
    for budget in args.budgets.split(","):
        runs = [generate(budget) for _ in range(args.repeat)]
        for phase in PHASES:
            cases = runs[-1][phase][0]
            seconds = statistics.median(run[phase][1] for run in runs)
            per_case = seconds / cases if cases else 0.0
            print(
                f"{budget:<9} {phase:<9} {cases:>6} {seconds:>7.2f} {per_case * 1000:>7.2f} {per_case / raw:>16.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
