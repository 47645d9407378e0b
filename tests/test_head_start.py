"""A check's early set-up (`conformance.layers.checks.prepares`): `over_time`'s calls seeded when the
run opens, so that their first pause passes while the checks before it run, against the real mock.

The rule the pause is for holds either way: each call is deleted at least a pause after its seeding
(a replica L seconds late is found for any L up to two pauses, docs/verdict.md).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path

from test_budgets import budget_config, not_skipped

from conformance.http.client import Exchange
from conformance.layers.checks import CHECKS
from conformance.mock import MockServer
from conformance.run.session import SuiteSession
from conformance.target import calls

BUDGET = 5000  # the default budget's cap: room for the early set-up


def _over_time(
    mock: MockServer, report_dir: Path, selected: Collection[str], *, budget: int = BUDGET, wait: float = 0.0
) -> tuple[SuiteSession, list[float], list[Exchange], list[str]]:
    """Open a session for `selected`, wait `wait` seconds, run `over_time`: the session, what the check
    slept (in order), the cancels and deletes sent, and the calls to delete the open had seeded for it."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    with not_skipped():
        suite = SuiteSession.open(budget_config(budget, mock.url, report_dir), sleep=sleep, selected=selected)
    deletes: list[Exchange] = []
    suite.ctx.client.observers.append(lambda e: deletes.append(e) if calls.destructive_id(e) else None)
    try:
        early = suite.ctx.prepared.get("over_time")
        prepared = [victim.call_id for victim in early[0]] if early else []
        time.sleep(wait)
        slept.clear()  # the check's own waits from here
        CHECKS["over_time"].run(suite.ctx)
        with not_skipped():
            suite.clean_up()
    finally:
        suite.close()
    return suite, slept, deletes, prepared


def _first_delete_after_seeding(suite: SuiteSession, deletes: list[Exchange], victims: list[str]) -> list[float]:
    """Each victim's first delete, in seconds after its seeding was sent."""
    setup, found = suite.ctx.env.setup, {}
    for exchange in deletes:
        call_id = calls.destructive_id(exchange)
        if call_id in victims and call_id not in found:
            found[call_id] = exchange.started - setup[call_id].started
    assert sorted(found) == sorted(victims), "a victim was not deleted"
    return list(found.values())


def test_over_time_set_up_at_open_waits_only_what_is_left_of_its_pause(mock_server: MockServer, tmp_path: Path) -> None:
    pause = budget_config(BUDGET).budget.pause_seconds
    suite, slept, deletes, prepared = _over_time(mock_server, tmp_path / "early", {"over_time"}, wait=pause)
    assert len(prepared) >= 2  # set up at open: the two extremes of data, at least
    assert "over_time" not in suite.ctx.prepared  # taken by the check
    assert slept[0] == 0.0, "its first pause had passed while the run went on: nothing left to wait"
    assert min(_first_delete_after_seeding(suite, deletes, prepared)) >= pause
    assert suite.ctx.results.verdict(strict=False) != "fail"


def test_over_time_run_at_once_after_the_open_still_waits_its_pause(mock_server: MockServer, tmp_path: Path) -> None:
    pause = budget_config(BUDGET).budget.pause_seconds
    suite, slept, deletes, prepared = _over_time(mock_server, tmp_path / "alone", {"over_time"})
    assert prepared
    assert slept[0] > 0.0
    assert min(_first_delete_after_seeding(suite, deletes, prepared)) >= pause


def test_only_a_selected_over_time_on_a_budget_with_room_is_set_up_at_open(
    mock_server: MockServer, tmp_path: Path
) -> None:
    pause = budget_config(BUDGET).budget.pause_seconds
    _, slept, _, prepared = _over_time(mock_server, tmp_path / "other", {"repeat_delete"})
    assert not prepared
    assert slept[0] > pause / 2  # it seeds its calls itself, and waits
    _, _, _, prepared = _over_time(mock_server, tmp_path / "small", {"over_time"}, budget=200)
    assert not prepared  # a small budget's first requests are for the cheapest checks
