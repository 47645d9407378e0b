"""`conformance.layers.verdict`, the one place the verdict is decided: what a single run, a parallel
run and `merge` all judge with (`tests/test_results.py` judges through `Results`; here the rules
a report carries: suite errors, replays, out of scope, the status shown, failures joined)."""

from __future__ import annotations

import pytest

from conformance.contract.requirements import REQUIREMENTS
from conformance.layers.results import FailureRecord
from conformance.layers.verdict import (
    MAX_FAILURES_PER_REQUIREMENT,
    Status,
    gates,
    join_failures,
    judge,
    shown,
    status,
    verdict_text,
)

MUST = next(r.id for r in REQUIREMENTS if r.level == "MUST")
SHOULD = next(r.id for r in REQUIREMENTS if r.level == "SHOULD")


def statuses(**changed: Status) -> dict[str, Status]:
    """Every requirement passed, but those `changed` (by id)."""
    return {r.id: "pass" for r in REQUIREMENTS} | changed


def test_status_from_checks_and_failures() -> None:
    assert [status(0, []), status(3, []), status(3, ["x"]), status(0, ["x"])] == [
        "not_exercised",
        "pass",
        "fail",
        "fail",
    ]


@pytest.mark.parametrize(
    ("found", "kwargs", "verdict"),
    [
        (statuses(), {}, "pass"),
        (statuses(), {"suite_errors": True}, "incomplete"),
        (statuses(**{MUST: "fail"}), {"suite_errors": True}, "fail"),
        (statuses(**{MUST: "fail"}), {"suite_errors": True, "replay": True}, "incomplete"),
        (statuses(**{MUST: "fail"}), {"replay": True}, "fail"),
        (statuses(**{MUST: "not_exercised"}), {}, "incomplete"),
        (statuses(**{MUST: "not_exercised"}), {"out_of_scope": {MUST}}, "pass"),
        (statuses(**{SHOULD: "fail"}), {}, "pass"),
        (statuses(**{SHOULD: "fail"}), {"strict": True}, "fail"),
        ({}, {}, "incomplete"),
    ],
    ids=[
        "all pass",
        "a suite error: not a pass",
        "a suite error does not hide a failure",
        "a replay with errors judges nothing",
        "a replay without errors judges",
        "a MUST not exercised",
        "out of scope: no gap",
        "a SHOULD failed",
        "a SHOULD failed, strict",
        "nothing found",
    ],
)
def test_judge(found: dict[str, Status], kwargs: dict[str, object], verdict: str) -> None:
    options: dict[str, object] = {"strict": False} | kwargs
    assert judge(found, **options) == verdict  # type: ignore[arg-type]


def test_a_failure_is_shown_as_a_warning_only_where_it_does_not_gate() -> None:
    assert (gates("MUST", strict=False), gates("SHOULD", strict=False), gates("SHOULD", strict=True)) == (
        True,
        False,
        True,
    )
    assert shown("fail", "SHOULD", strict=False) == "warn"
    assert shown("fail", "SHOULD", strict=True) == "fail"
    assert shown("fail", "MUST", strict=False) == "fail"
    assert shown("not_exercised", "SHOULD", strict=False) == "not_exercised"


def test_failures_join_as_one_run_keeps_them() -> None:
    first = [FailureRecord("same", "r1"), FailureRecord("a", "r2")]
    second = [FailureRecord("same", "r3"), *(FailureRecord(f"b{n}", "r") for n in range(10))]
    joined = join_failures([first, second])
    assert [f.message for f in joined] == ["same", "a", "b0", "b1", "b2"]
    assert len(joined) == MAX_FAILURES_PER_REQUIREMENT
    assert joined[0].reproduction == "r1"  # the first kept, as a single run keeps the first


def test_verdict_text_counts_the_calls_left() -> None:
    assert verdict_text("pass", 0) == "PASS"
    assert verdict_text("pass", 1) == "PASS, 1 call left on the target (see report.json)"
    assert verdict_text("fail", 2) == "FAIL, 2 calls left on the target (see report.json)"
