"""The check registry: the targeted properties, each registered with `@check`.

A check is a function `check(ctx) -> None` registered with `@check(name, *requirement_ids)`.
Each becomes one test of the suite (`-k NAME` selects it). Inside, `ctx.expect(...)` counts a
check of a requirement and, when it does not hold, records a failure with the exchanges that show
it: a MUST failure raises (the check stops there), a SHOULD failure is recorded and the check
goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conformance.contract.requirements import by_id
from conformance.layers.context import Context

__all__ = ["CHECKS", "Check", "check"]


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
