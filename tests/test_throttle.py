"""The one 429 policy (`conformance.http.throttle`), used by the client and the schema layer alike."""

from __future__ import annotations

import pytest

from conformance.http.throttle import MAX_RETRY_AFTER, MAX_THROTTLE_RETRIES, retry_after, until_served, wait_for


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        (" 2 ", 2.0),
        ("0", 0.0),
        ("600", MAX_RETRY_AFTER),
        ("1.5", 1.0),
        ("soon", 1.0),
        ("²", 1.0),  # a digit to str.isdigit, not to float() nor to HTTP
        ("٣", 1.0),
        ("", 1.0),
        (None, 1.0),
    ],
)
def test_retry_after_is_whole_seconds_capped(value: str | None, seconds: float) -> None:
    assert retry_after(value) == seconds


def test_only_a_429_is_waited_for() -> None:
    assert wait_for(429, "4") == 4.0
    assert wait_for(200, "4") is None
    assert wait_for(None, None) is None


def run(statuses: list[int | None]) -> tuple[int | None, list[int | None], list[float], int]:
    """Send answers `statuses` in turn: (the answer, what was sent, the waits, the throttled count)."""
    sent: list[int | None] = []
    waits: list[float] = []
    throttled: list[int] = []

    def attempt() -> int | None:
        sent.append(statuses[len(sent)])
        return sent[-1]

    answer = until_served(attempt, lambda status: wait_for(status, "2"), waits.append, throttled.append)
    return answer, sent, waits, len(throttled)


def test_a_429_is_waited_out_and_sent_again() -> None:
    assert run([429, 429, 200]) == (200, [429, 429, 200], [2.0, 2.0], 2)


def test_no_more_than_the_retries_and_the_last_429_is_the_answer() -> None:
    answer, sent, waits, throttled = run([429] * 10)
    assert (answer, len(sent), len(waits), throttled) == (429, MAX_THROTTLE_RETRIES + 1, MAX_THROTTLE_RETRIES, 5)


def test_no_answer_is_never_sent_again() -> None:
    assert run([429, None, 200]) == (None, [429, None], [2.0], 1)
