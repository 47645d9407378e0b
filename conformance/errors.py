"""The suite's two families of error, never mixed.

`Failure`: the target broke a contract rule; it carries the requirement id, a one-line title,
and the exchanges that show it. `UsageError`: the suite was misused (a bad flag, an unreachable
target, missing credentials); its message says what to do. `NotExercised`: a check cannot run
with what this target and these credentials allow; its requirement is reported "not exercised"
(`BudgetSpent`: the run's request budget is used up). `UnsafeRequest`: the suite itself was about to
cancel or delete an id that might not be its own; never sent.

The schema layer's `CallStillThere` is a schemathesis check failure, not one of these: it lives
with the schema layer, so that this module (which the mock imports) never loads schemathesis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from _pytest.outcomes import Skipped

if TYPE_CHECKING:
    from conformance.http.client import Exchange

__all__ = [
    "SUITE_FAILED",
    "USAGE_ERROR",
    "BudgetSpent",
    "Failure",
    "NotExercised",
    "UnsafeRequest",
    "UsageError",
    "failures_in",
]

USAGE_ERROR = 4  # the exit code of a `UsageError`
SUITE_FAILED = 3  # the exit code when the suite itself failed (`conformance.run.crash`)


class Failure(AssertionError):
    def __init__(self, requirement: str, title: str, exchanges: Sequence[Exchange] = ()) -> None:
        super().__init__(f"[{requirement}] {title}")
        self.requirement = requirement
        self.title = title
        self.exchanges = tuple(exchanges)


class UsageError(Exception):
    """A one-line message and exit code 4 (the plugin hands it to pytest as `pytest.UsageError`)."""


class NotExercised(Skipped):
    """Skips the check; its requirements stay "not exercised" unless another check covers them."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"not exercised: {reason}", allow_module_level=False)
        self.reason = reason


class BudgetSpent(NotExercised):
    """The run's request budget is used up: what is left of the check is not exercised."""


class UnsafeRequest(Exception):
    """The suite was about to cancel or delete an id that might not be its own: its own bug, never sent."""


def failures_in(error: BaseException, kind: type[Any]) -> list[Any]:
    """The errors of type `kind` that `error` is or holds (in exception groups, nested)."""
    if isinstance(error, kind):
        return [error]
    if isinstance(error, BaseExceptionGroup):
        return [f for sub in error.exceptions for f in failures_in(sub, kind)]
    return []
