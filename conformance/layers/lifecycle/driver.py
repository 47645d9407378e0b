"""Running the lifecycle machine: as many runs as the budget has room for, seeded, with a shrink
bounded in time, and never refused a request once started."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import hypothesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from conformance.errors import BudgetSpent, NotExercised
from conformance.http.client import Client
from conformance.layers.context import Context
from conformance.layers.determinism import no_mined_constants
from conformance.layers.lifecycle.machine import LifecycleMachine

__all__ = ["STEP_COST", "need_a_key", "run_lifecycle"]

STEP_COST = 3  # requests a step sends at most (the operation, a read back, a seeding): for the budget


def need_a_key(ctx: Context) -> None:
    if not any(t.key for t in (ctx.env.a, ctx.env.b)):
        raise NotExercised("the lifecycle needs an API key to seed and read calls")


def run_lifecycle(ctx: Context, *, examples: int, seed: int) -> None:
    """Up to `examples` random sequences of seed, advance, get, cancel, delete and repeat, drawn
    from `seed`, each compared with the model (a MUST failure raises, shrunk)."""
    budget = ctx.config.budget
    examples = min(examples, _runs_that_fit(ctx.client, budget.lifecycle_steps))
    if examples == 0:
        raise BudgetSpent(f"the run's budget of {ctx.client.max_requests} requests has no room for a lifecycle run")
    config = settings(
        max_examples=examples,
        stateful_step_count=budget.lifecycle_steps,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        # No explain phase: it replays the shrunk run hundreds of times against the target. No
        # shrinking either at a budget that allows it no time: a run that short is its own reproduction.
        phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if budget.shrink_seconds else [])],
    )

    def machine() -> LifecycleMachine:
        return LifecycleMachine(ctx)

    # Hypothesis' exploration of new prefixes ends many runs after a step or two; a failure still
    # ends its run at once, so forcing full runs costs the shrunk reproduction no steps.
    factory = hypothesis.seed(seed)(machine)
    raised = len(ctx.raised)
    with _shrinking_for_at_most(budget.shrink_seconds), _overdraft(ctx.client), no_mined_constants():
        try:
            run_state_machine_as_test(factory, settings=config, _min_steps=budget.lifecycle_steps)  # type: ignore[arg-type]
        except Flaky:
            # Replaying (or shrinking) a failing run, hypothesis met other answers: a target that
            # recycles ids or changes by itself. The failure as first seen is the verdict, unshrunk.
            if len(ctx.raised) == raised:
                raise
            raise ctx.raised[raised] from None


def _runs_that_fit(client: Client, steps: int) -> int:
    """How many runs of `steps` steps the budget has room for, at the most each could send."""
    if not client.max_requests:
        return 1 << 30
    return max(0, client.max_requests - client.requests - client.reserved()) // (steps * STEP_COST + 10)


def _overdraft(client: Client) -> AbstractContextManager[None]:
    """Once started, a part is never refused a request: its runs were counted to fit beforehand, and
    refusing one half-way would change what a replayed run does, which hypothesis reports as a flaky
    test instead of the answer. Shrinking a failure (bounded by time) may go past the budget; the
    clean-up's share of it stays kept (`Client.overdraft`)."""
    return client.overdraft()


@contextmanager
def _shrinking_for_at_most(seconds: int) -> Iterator[None]:
    """Every shrink step is requests to the target: bound it by the budget, not hypothesis's
    5 minutes (a private constant of the exactly pinned hypothesis)."""
    from hypothesis.internal.conjecture import engine

    saved, engine.MAX_SHRINKING_SECONDS = engine.MAX_SHRINKING_SECONDS, seconds
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = saved
