"""What the run found, requirement by requirement: checks made, failures, and what was not exercised.

This is the single source of truth for the report and the exit code; pytest's own pass/fail of
each test only mirrors it. The status and the verdict are judged by `conformance.layers.verdict`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from conformance.contract.requirements import REQUIREMENTS, by_id
from conformance.layers.verdict import EXIT_CODES, MAX_FAILURES_PER_REQUIREMENT, Status, Verdict, judge, keeps
from conformance.layers.verdict import status as status_of

__all__ = ["EXIT_CODES", "MAX_FAILURES_PER_REQUIREMENT", "FailureRecord", "Results", "Status", "Verdict"]


@dataclass(frozen=True)
class FailureRecord:
    """One way a requirement was broken, and the commands that show it again."""

    message: str = field(metadata={"doc": "what the target did against the rule"})
    reproduction: str = field(metadata={"doc": "commands that send the requests again (secrets as variables)"})


class Results:
    def __init__(self) -> None:
        self.checks: Counter[str] = Counter()
        self.failures: dict[str, list[FailureRecord]] = {}
        self.not_exercised: dict[str, str] = {}  # requirement -> why (from a skipped check)
        self.out_of_scope: dict[str, str] = {}  # requirement -> why this run does not judge it (record/replay)
        self.found: Counter[str] = Counter()  # failures found per requirement, kept or not (for each check's line)
        self._lock = threading.Lock()

    def check(self, requirement: str, count: int = 1) -> None:
        by_id(requirement)  # an unknown id is a bug of the suite: fail loudly
        with self._lock:
            self.checks[requirement] += count

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
