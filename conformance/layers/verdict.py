"""The verdict, decided here only: a requirement's status from its checks and failures, which
failures are kept, and the run's verdict from the statuses.

A single run (`conformance.layers.results`), a parallel run's workers joined and shards joined by
`husky-conformance merge` (`conformance.run.merge`) all judge with these functions, so the same
findings give the same verdict however the run was split. Pure: no I/O, no state.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Literal, Protocol, TypeVar

from conformance.contract.requirements import REQUIREMENTS

__all__ = [
    "EXIT_CODES",
    "MAX_FAILURES_PER_REQUIREMENT",
    "Shown",
    "Status",
    "Verdict",
    "gates",
    "join_failures",
    "judge",
    "keeps",
    "shown",
    "status",
    "verdict_text",
]

Status = Literal["pass", "fail", "not_exercised"]
Shown = Literal["pass", "fail", "warn", "not_exercised"]  # a failed SHOULD is a warning unless strict
Verdict = Literal["pass", "fail", "incomplete"]
EXIT_CODES: dict[Verdict, int] = {"pass": 0, "fail": 1, "incomplete": 2}
MAX_FAILURES_PER_REQUIREMENT = 5


class _Failure(Protocol):
    @property
    def message(self) -> str: ...


F = TypeVar("F", bound=_Failure)


def status(checks: int, failures: Sequence[object]) -> Status:
    """One failure fails a requirement however many checks passed; no check and no failure: not exercised."""
    if failures:
        return "fail"
    return "pass" if checks else "not_exercised"


def keeps(found: Sequence[_Failure], message: str) -> bool:
    """Whether a failure with `message` joins those `found` for its requirement: a new message, under the cap."""
    return len(found) < MAX_FAILURES_PER_REQUIREMENT and all(f.message != message for f in found)


def join_failures(groups: Sequence[Sequence[F]]) -> list[F]:
    """The failures of one requirement from several runs, in order, kept as one run keeps them."""
    joined: list[F] = []
    for failure in (f for group in groups for f in group):
        if keeps(joined, failure.message):
            joined.append(failure)
    return joined


def gates(level: str, *, strict: bool) -> bool:
    """Whether a failure of a requirement of `level` fails the run: a MUST always, a SHOULD under --strict."""
    return level == "MUST" or strict


def shown(requirement_status: Status, level: str, *, strict: bool) -> Shown:
    """The status the reports show: a failure that does not gate the run is a warning."""
    return "warn" if requirement_status == "fail" and not gates(level, strict=strict) else requirement_status


def judge(
    statuses: Mapping[str, Status],
    *,
    strict: bool,
    out_of_scope: Collection[str] = (),
    suite_errors: bool = False,
    replay: bool = False,
) -> Verdict:
    """The run's verdict from every requirement's status (absent: not exercised).

    FAIL when a gating requirement failed; INCOMPLETE when a MUST in scope was not exercised or the
    suite itself had errors (a run that may have missed something has not shown a pass), and a replay
    with errors judges nothing (it strayed from its recording); else PASS.
    """
    if replay and suite_errors:
        return "incomplete"
    found = {r.id: statuses.get(r.id, "not_exercised") for r in REQUIREMENTS}
    if any(found[r.id] == "fail" and gates(r.level, strict=strict) for r in REQUIREMENTS):
        return "fail"
    in_scope = [r for r in REQUIREMENTS if r.id not in out_of_scope]
    if suite_errors or any(found[r.id] == "not_exercised" and r.level == "MUST" for r in in_scope):
        return "incomplete"
    return "pass"


def verdict_text(verdict: str, leftovers: int) -> str:
    """The verdict in words: `PASS`, or `PASS, 2 calls left on the target (see report.json)`."""
    left = f", {leftovers} call{'s' * (leftovers != 1)} left on the target (see report.json)" if leftovers else ""
    return verdict.upper() + left
