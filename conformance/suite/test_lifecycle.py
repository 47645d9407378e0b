"""The model-based lifecycle layer (`conformance.layers.lifecycle`): a hypothesis state machine
seeds calls of two organisations, moves them forward, and gets, cancels and deletes them over REST
and the webhook with drawn ids and credentials; after every step the answer and the call's new
state are compared with `conformance.contract.model`'s prediction (contract sections 2 to 6).

The runs are spread over `LIFECYCLE_PARTS` tests, each its own seed and share of the budget's
runs, so that a parallel run spreads them over its workers.
"""

from __future__ import annotations

import pytest

from conformance.contract import model
from conformance.layers.context import Context
from conformance.layers.lifecycle import need_a_key, run_lifecycle
from conformance.run.parallel import LIFECYCLE_PARTS, lifecycle_share


@pytest.mark.husky(layer="lifecycle", requirements=model.CHECKED)
@pytest.mark.parametrize("part", range(1, LIFECYCLE_PARTS + 1), ids=lambda part: f"lifecycle-{part}")
def test_lifecycle(husky: Context, part: int) -> None:
    """Random sequences of seed, advance, get, cancel, delete and repeat match the model."""
    need_a_key(husky)
    budget = husky.config.budget
    examples = lifecycle_share(budget.lifecycle_examples, part)  # a parallel run spreads the parts
    if examples == 0:
        pytest.skip(f"the budget's {budget.lifecycle_examples} lifecycle run(s) are in the other parts")
    run_lifecycle(husky, examples=examples, seed=husky.config.seed * LIFECYCLE_PARTS + part)
