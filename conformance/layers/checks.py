"""The check registry: the targeted properties, each registered with `@check`.

A check is a function `check(ctx) -> None` registered with `@check(name, *requirement_ids)`.
Each becomes one test of the suite (`-k NAME` selects it). Inside, `ctx.expect(...)` counts a
check of a requirement and, when it does not hold, records a failure with the exchanges that show
it: a MUST failure raises (the check stops there), a SHOULD failure is recorded and the check
goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from conformance.contract.requirements import by_id
from conformance.layers.context import Context

__all__ = ["CHECKS", "EARLY", "Check", "check", "head_start", "prepares"]


@dataclass(frozen=True)
class Check:
    name: str
    requirements: tuple[str, ...]
    run: Callable[[Context], None]

    @property
    def doc(self) -> str:
        return (self.run.__doc__ or "").strip().splitlines()[0] if self.run.__doc__ else ""


CHECKS: dict[str, Check] = {}


def check(name: str, *requirements: str) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register a targeted property under a unique name, for the requirements it checks."""
    for requirement in requirements:
        by_id(requirement)

    def register(function: Callable[[Context], None]) -> Callable[[Context], None]:
        if name in CHECKS:
            raise ValueError(f"a check named {name!r} is registered already")
        CHECKS[name] = Check(name, requirements, function)
        return function

    return register


# Check name -> what it sets up when the run opens, if it is selected (`head_start`).
EARLY: dict[str, Callable[[Context], None]] = {}


def prepares(name: str) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register what check `name` sets up when the run opens, before any check runs: calls it must
    let age a while (`over_time`), which then age while the checks before it run. It keeps what it
    made in `Context.prepared[name]`; the check does it itself when that is absent."""

    def register(function: Callable[[Context], None]) -> Callable[[Context], None]:
        EARLY[name] = function
        return function

    return register


def head_start(ctx: Context, selected: Collection[str]) -> None:
    """Each selected check's early set-up (`prepares`), under its own name (the calls are for it)."""
    for name, prepare in EARLY.items():
        if name in selected:
            ctx.begin(name, CHECKS[name].requirements)
            prepare(ctx)
