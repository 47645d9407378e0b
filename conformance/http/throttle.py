"""The one 429 policy of the run, whichever HTTP stack sends (the client, schemathesis).

A 429 was not acted on (contract section 7), so sending the same request again is safe: it is
waited out for its `Retry-After` (whole seconds; anything else counts as one second, and no wait is
longer than `MAX_RETRY_AFTER`) and sent again, at most `MAX_THROTTLE_RETRIES` times. The last answer,
429 or not, is the request's answer; each 429 waited out counts as throttled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["MAX_RETRY_AFTER", "MAX_THROTTLE_RETRIES", "retry_after", "until_served", "wait_for"]

MAX_RETRY_AFTER = 60.0
MAX_THROTTLE_RETRIES = 5

T = TypeVar("T")


def retry_after(value: str | None) -> float:
    """The seconds a `Retry-After` of `value` asks to wait, as the suite waits them."""
    value = (value or "").strip()
    return min(float(value), MAX_RETRY_AFTER) if value.isascii() and value.isdigit() else 1.0  # not "²"


def wait_for(status: int | None, value: str | None) -> float | None:
    """The seconds to wait before sending again an answer of `status` with `Retry-After: value`;
    None when it was not throttled."""
    return retry_after(value) if status == 429 else None


def until_served(
    attempt: Callable[[], T | None],
    wait: Callable[[T], float | None],
    sleep: Callable[[float], None],
    on_throttled: Callable[[T], None] = lambda answer: None,
) -> T | None:
    """`attempt()` until its answer is not throttled (`wait` says how long to wait, None once it is
    not), or `MAX_THROTTLE_RETRIES` times more; None when an attempt got no answer at all."""
    answer = attempt()
    for _ in range(MAX_THROTTLE_RETRIES):
        pause = wait(answer) if answer is not None else None
        if answer is None or pause is None:
            break
        on_throttled(answer)
        sleep(pause)
        answer = attempt()
    return answer
