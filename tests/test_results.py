"""`conformance.layers.results`: status per requirement, the verdict (strict or not), and its exit code."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance import cli
from conformance.config import BUDGETS
from conformance.contract.requirements import REQUIREMENTS, by_id
from conformance.http.redaction import Secrets
from conformance.layers.results import EXIT_CODES, MAX_FAILURES_PER_REQUIREMENT, Results
from conformance.run import report

MUST = "DEL-REPEAT-404"
SHOULD = "CANCEL-PAST-QUEUED-409"


def results(*, failed: tuple[str, ...] = (), unexercised: tuple[str, ...] = ()) -> Results:
    """Every requirement checked once, but `unexercised`; then `failed` ones fail."""
    found = Results()
    for requirement in REQUIREMENTS:
        if requirement.id not in unexercised:
            found.check(requirement.id)
    for requirement_id in failed:
        found.fail(requirement_id, f"{requirement_id} broken", "curl -sS -X GET http://127.0.0.1:9/v1/calls/x")
    return found


def test_the_two_levels_used_here_are_right() -> None:
    assert (by_id(MUST).level, by_id(SHOULD).level) == ("MUST", "SHOULD")


# --- status --------------------------------------------------------------------------------------


def test_a_requirement_nobody_checked_is_not_exercised() -> None:
    assert Results().status(MUST) == "not_exercised"


def test_a_checked_requirement_passes() -> None:
    found = Results()
    found.check(MUST, 3)
    assert found.status(MUST) == "pass"
    assert found.checks[MUST] == 3


def test_one_failure_fails_however_many_checks_passed() -> None:
    found = Results()
    found.check(MUST, 100)
    found.fail(MUST, "once", "curl")
    assert found.status(MUST) == "fail"


def test_a_failure_without_a_check_still_fails() -> None:
    found = Results()
    found.fail(SHOULD, "recorded by a layer that counts elsewhere", "curl")
    assert found.status(SHOULD) == "fail"


def test_a_skip_keeps_the_first_reason_and_counts_no_check() -> None:
    found = Results()
    found.skip((MUST, SHOULD), "first reason")
    found.skip((MUST,), "second reason")
    assert found.not_exercised == {MUST: "first reason", SHOULD: "first reason"}
    assert found.status(MUST) == "not_exercised"


@pytest.mark.parametrize(
    "record",
    [lambda r: r.check("NO-SUCH-REQUIREMENT"), lambda r: r.fail("NO-SUCH-REQUIREMENT", "m", "r")],
    ids=["check", "fail"],
)
def test_an_unknown_requirement_is_a_bug_of_the_suite(record: Callable[[Results], None]) -> None:
    with pytest.raises(KeyError, match="NO-SUCH-REQUIREMENT"):
        record(Results())


def test_the_same_message_is_kept_once() -> None:
    found = Results()
    for _ in range(3):
        found.fail(MUST, "same", "first reproduction")
    found.fail(MUST, "other", "second reproduction")
    assert [(f.message, f.reproduction) for f in found.failures[MUST]] == [
        ("same", "first reproduction"),
        ("other", "second reproduction"),
    ]


def test_failures_per_requirement_are_capped() -> None:
    found = Results()
    for n in range(MAX_FAILURES_PER_REQUIREMENT + 3):
        found.fail(MUST, f"failure {n}", "curl")
    assert [f.message for f in found.failures[MUST]] == [f"failure {n}" for n in range(MAX_FAILURES_PER_REQUIREMENT)]


def test_checks_from_many_threads_all_count() -> None:
    found = Results()

    def count() -> None:
        for _ in range(500):
            found.check(MUST)

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found.checks[MUST] == 4000


# --- verdict -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failed", "unexercised", "strict", "verdict"),
    [
        ((), (), False, "pass"),
        ((), (), True, "pass"),
        ((MUST,), (), False, "fail"),
        ((SHOULD,), (), False, "pass"),
        ((SHOULD,), (), True, "fail"),
        ((), (MUST,), False, "incomplete"),
        ((), (MUST,), True, "incomplete"),
        ((), (SHOULD,), False, "pass"),
        ((), (SHOULD,), True, "pass"),
        ((MUST,), ("ENV-NO-5XX",), False, "fail"),
        ((SHOULD,), ("ENV-NO-5XX",), False, "incomplete"),
        ((SHOULD,), ("ENV-NO-5XX",), True, "fail"),
    ],
    ids=[
        "all pass",
        "all pass, strict",
        "a MUST failed",
        "a SHOULD failed",
        "a SHOULD failed, strict",
        "a MUST not exercised",
        "a MUST not exercised, strict",
        "a SHOULD not exercised",
        "a SHOULD not exercised, strict",
        "failure beats incomplete",
        "a SHOULD failure does not hide an unexercised MUST",
        "strict: a SHOULD failure beats incomplete",
    ],
)
def test_verdict(failed: tuple[str, ...], unexercised: tuple[str, ...], strict: bool, verdict: str) -> None:
    assert results(failed=failed, unexercised=unexercised).verdict(strict=strict) == verdict


def test_an_empty_run_is_incomplete() -> None:
    assert Results().verdict(strict=False) == "incomplete"


# --- exit codes ----------------------------------------------------------------------------------


def test_exit_codes() -> None:
    assert EXIT_CODES == {"pass": 0, "fail": 1, "incomplete": 2}
    assert cli.USAGE_ERROR == int(pytest.ExitCode.USAGE_ERROR) == 4  # the CLI's and pytest's agree
    assert len({*EXIT_CODES.values(), cli.USAGE_ERROR}) == 4


def _finished(tmp_path: Path, found: Results, *, strict: bool = False, suite_errors: tuple[str, ...] = ()) -> int:
    """`report.finish` of a run that found `found`: its exit code (the reports go to tmp_path)."""
    config = SimpleNamespace(
        strict=strict, seed=1, budget=BUDGETS["quick"], report_dir=tmp_path, max_requests=0, replay=False
    )
    client = SimpleNamespace(secrets=Secrets(), requests=3, throttled=0, pacer=SimpleNamespace(interval=0.0))
    env = SimpleNamespace(
        guard=SimpleNamespace(destructive_allowed=True), seeder=SimpleNamespace(name="fixtures"), ledger=None
    )
    ctx = SimpleNamespace(results=found, client=client, env=env)
    suite = SimpleNamespace(
        config=config,
        ctx=ctx,
        target="http://127.0.0.1:9",
        duration=0.5,
        suite_errors=list(suite_errors),
        cleanup=None,
        planned=None,
        mock=None,
        shard=None,
    )
    return report.finish(suite)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("failed", "unexercised", "strict", "code"),
    [
        ((), (), False, 0),
        ((MUST,), (), False, 1),
        ((SHOULD,), (), False, 0),
        ((SHOULD,), (), True, 1),
        ((), (MUST,), False, 2),
    ],
    ids=["pass", "MUST failed", "SHOULD failed", "SHOULD failed, strict", "MUST not exercised"],
)
def test_the_reports_exit_code_is_the_verdicts(
    tmp_path: Path, failed: tuple[str, ...], unexercised: tuple[str, ...], strict: bool, code: int
) -> None:
    assert _finished(tmp_path, results(failed=failed, unexercised=unexercised), strict=strict) == code
    written = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert EXIT_CODES[written["verdict"]] == code


def test_a_suite_error_makes_a_passing_run_incomplete(tmp_path: Path) -> None:
    assert _finished(tmp_path, results(), suite_errors=("test_property[x]: TypeError: boom",)) == 2


def test_a_suite_error_does_not_hide_a_failure(tmp_path: Path) -> None:
    assert _finished(tmp_path, results(failed=(MUST,)), suite_errors=("test_property[x]: TypeError: boom",)) == 1
