"""The model-based lifecycle layer: a hypothesis state machine (`machine`) of steps (`steps`) whose
answers are compared with `conformance.contract.model`'s predictions, run within the budget
(`driver`). A MUST failure raises, so hypothesis shrinks the run to a minimal failing sequence of
steps; its exchanges (with the seeding and moves of the calls involved) are the reproduction."""

from conformance.layers.lifecycle.driver import need_a_key, run_lifecycle
from conformance.layers.lifecycle.machine import LifecycleMachine

__all__ = ["LifecycleMachine", "need_a_key", "run_lifecycle"]
