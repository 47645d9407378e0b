"""What the run found, requirement by requirement: checks made, failures, and the verdict.

This is the single source of truth for the report and the exit code; pytest's own pass/fail of
each test only mirrors it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from conformance.contract.requirements import REQUIREMENTS, Requirement, by_id

__all__ = ["EXIT_CODES", "FailureRecord", "Results", "Status", "Verdict"]

Status = Literal["pass", "fail", "not_exercised"]
Verdict = Literal["pass", "fail", "incomplete"]
EXIT_CODES: dict[Verdict, int] = {"pass": 0, "fail": 1, "incomplete": 2}
MAX_FAILURES_PER_REQUIREMENT = 5


@dataclass(frozen=True)
class FailureRecord:
    message: str
    reproduction: str


class Results:
    def __init__(self) -> None:
        self.checks: Counter[str] = Counter()
        self.failures: dict[str, list[FailureRecord]] = {}
        self.not_exercised: dict[str, str] = {}  # requirement -> why (from a skipped check)
        self.out_of_scope: dict[str, str] = {}  # requirement -> why this run does not judge it (record/replay)
        self._lock = threading.Lock()

    def check(self, requirement: str, count: int = 1) -> None:
        by_id(requirement)  # an unknown id is a bug of the suite: fail loudly
        with self._lock:
            self.checks[requirement] += count

    def fail(self, requirement: str, message: str, reproduction: str) -> None:
        by_id(requirement)
        with self._lock:
            found = self.failures.setdefault(requirement, [])
            if len(found) < MAX_FAILURES_PER_REQUIREMENT and all(f.message != message for f in found):
                found.append(FailureRecord(message, reproduction))

    def skip(self, requirements: tuple[str, ...], reason: str) -> None:
        for requirement in requirements:
            self.not_exercised.setdefault(requirement, reason)

    def exclude(self, requirements: Iterable[str], reason: str) -> None:
        """Out of this run's scope: reported not exercised for `reason`, and no gap in the verdict."""
        for requirement in requirements:
            self.out_of_scope[by_id(requirement).id] = reason

    def status(self, requirement: str) -> Status:
        if self.failures.get(requirement):
            return "fail"
        return "pass" if self.checks[requirement] else "not_exercised"

    def verdict(self, *, strict: bool) -> Verdict:
        def gates(r: Requirement) -> bool:
            return r.level == "MUST" or strict

        if any(self.status(r.id) == "fail" and gates(r) for r in REQUIREMENTS):
            return "fail"
        in_scope = [r for r in REQUIREMENTS if r.id not in self.out_of_scope]
        if any(self.status(r.id) == "not_exercised" and r.level == "MUST" for r in in_scope):
            return "incomplete"
        return "pass"
