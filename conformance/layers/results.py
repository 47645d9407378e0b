"""What the run found, requirement by requirement: checks made, failures, and what was not exercised.

This is the single source of truth for the report and the exit code; pytest's own pass/fail of
each test only mirrors it. The status and the verdict are judged by `conformance.layers.verdict`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from conformance.contract.requirements import REQUIREMENTS, by_id
from conformance.layers.verdict import EXIT_CODES, MAX_FAILURES_PER_REQUIREMENT, Status, Verdict, judge, keeps
from conformance.layers.verdict import status as status_of

__all__ = [
    "AXES",
    "EXIT_CODES",
    "MAX_FAILURES_PER_REQUIREMENT",
    "Axis",
    "Dimensions",
    "FailureRecord",
    "Results",
    "Status",
    "Value",
    "Verdict",
    "dimensions_of",
]

# The dimensions of the contract a requirement is judged along (issue 13; `conformance.layers.dimensions`).
Axis = Literal["credential", "transport", "method", "call_state", "data", "timing", "concurrency", "repetition"]
AXES: tuple[Axis, ...] = (
    "credential",
    "transport",
    "method",
    "call_state",
    "data",
    "timing",
    "concurrency",
    "repetition",
)
Value = tuple[Axis, str]  # one value along one axis


@dataclass(frozen=True)
class FailureRecord:
    """One way a requirement was broken, and the commands that show it again."""

    message: str = field(metadata={"doc": "what the target did against the rule"})
    reproduction: str = field(metadata={"doc": "commands that send the requests again (secrets as variables)"})


@dataclass(frozen=True)
class Dimensions:
    """The values of each dimension of the contract along which a requirement was judged (issue 13): a
    value is listed only if an exchange with it was judged for the requirement."""

    credential: tuple[str, ...] = field(
        default=(), metadata={"doc": "credential forms sent: the headers, the webhook token, adversarial variants"}
    )
    transport: tuple[str, ...] = field(default=(), metadata={"doc": "REST, webhook"})
    method: tuple[str, ...] = field(default=(), metadata={"doc": "HTTP methods sent"})
    call_state: tuple[str, ...] = field(
        default=(), metadata={"doc": "the state of the call named when the request went (never existed, deleted...)"}
    )
    data: tuple[str, ...] = field(default=(), metadata={"doc": "kinds of data the call named was seeded with"})
    timing: tuple[str, ...] = field(default=(), metadata={"doc": "at once, or after the pause"})
    concurrency: tuple[str, ...] = field(default=(), metadata={"doc": "sequential, or concurrent"})
    repetition: tuple[str, ...] = field(
        default=(), metadata={"doc": "of a cancel or delete: first, or repeat (the same operation had succeeded)"}
    )

    def listed(self) -> list[tuple[Axis, tuple[str, ...]]]:
        """Each axis with a value, in `AXES` order, and its values."""
        return [(axis, values) for axis in AXES if (values := getattr(self, axis))]

    def union(self, other: Dimensions) -> Dimensions:
        """Both sets of values, each axis sorted: what the parts of one run covered together."""
        return Dimensions(**{a: tuple(sorted({*getattr(self, a), *getattr(other, a)})) for a in AXES})


def dimensions_of(judged: Iterable[frozenset[Value]]) -> Dimensions:
    """The `Dimensions` of the exchanges judged for one requirement (each one's values): each axis sorted."""
    found: dict[str, set[str]] = {axis: set() for axis in AXES}
    for values in judged:
        for axis, value in values:
            found[axis].add(value)
    return Dimensions(**{axis: tuple(sorted(found[axis])) for axis in AXES})


class Results:
    def __init__(self) -> None:
        self.checks: Counter[str] = Counter()
        self.failures: dict[str, list[FailureRecord]] = {}
        self.not_exercised: dict[str, str] = {}  # requirement -> why (from a skipped check)
        self.out_of_scope: dict[str, str] = {}  # requirement -> why this run does not judge it (record/replay)
        self.covered: dict[str, set[frozenset[Value]]] = {}  # requirement -> the values of each exchange judged
        self.found: Counter[str] = Counter()  # failures found per requirement, kept or not (for each check's line)
        self._lock = threading.Lock()

    def check(self, requirement: str, count: int = 1) -> None:
        by_id(requirement)  # an unknown id is a bug of the suite: fail loudly
        with self._lock:
            self.checks[requirement] += count

    def cover(self, requirement: str, values: frozenset[Value]) -> None:
        """An exchange with these dimension values was judged for `requirement` (none: not counted)."""
        if not values:
            return
        found = self.covered.get(requirement)
        if found is None:
            found = self.covered.setdefault(requirement, set())
        found.add(values)  # a few distinct sets per requirement: hashed once each (frozenset caches it)

    def dimensions(self, requirement: str) -> Dimensions:
        return dimensions_of(self.covered.get(requirement, ()))

    def fail(self, requirement: str, message: str, reproduction: str) -> None:
        by_id(requirement)
        with self._lock:
            self.found[requirement] += 1
            found = self.failures.setdefault(requirement, [])
            if keeps(found, message):
                found.append(FailureRecord(message, reproduction))

    def keeps(self, requirement: str, message: str) -> bool:
        """Whether a failure of `requirement` with `message` would be kept (see `fail`)."""
        with self._lock:
            return keeps(self.failures.get(requirement, []), message)

    def skip(self, requirements: tuple[str, ...], reason: str) -> None:
        for requirement in requirements:
            self.not_exercised.setdefault(requirement, reason)

    def exclude(self, requirements: Iterable[str], reason: str) -> None:
        """Out of this run's scope: reported not exercised for `reason`, and no gap in the verdict."""
        for requirement in requirements:
            self.out_of_scope[by_id(requirement).id] = reason

    def status(self, requirement: str) -> Status:
        return status_of(self.checks[requirement], self.failures.get(requirement, []))

    def verdict(self, *, strict: bool) -> Verdict:
        """The verdict of what was found (the suite's own errors aside: `conformance.run.report`)."""
        statuses = {r.id: self.status(r.id) for r in REQUIREMENTS}
        return judge(statuses, strict=strict, out_of_scope=self.out_of_scope)
