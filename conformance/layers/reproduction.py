"""A failure's reproduction: every request of its check that concerns the calls the failing
exchanges name, in the order they were sent, then the replay line.

The calls are those the suite made (`Environment.created`) that the failing exchanges mention (in
the URL or either body, an id variant such as `<id>%20` included) or the failure's title names (the
deleted call whose PII an answer about another call holds; a failure with no exchange of its own).
Chosen from the check's history (`conformance.http.history`): each request up to the last failing
one that names one of them as a whole id, the failing ones whatever they name, and the seeding of
each (`Environment.setup`) where the history no longer holds it. Requests that were in flight
together are marked; past `MAX_REQUESTS`, the seeding and the latest are kept and the number left
out is said.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from conformance.http.client import Exchange
from conformance.http.history import Sent
from conformance.http.redaction import Secrets
from conformance.target.calls import created_id

__all__ = ["MAX_REQUESTS", "Steps", "choose", "mentioned", "render"]

MAX_REQUESTS = 30  # request lines a reproduction shows at most
MAX_TEXT = 65536  # bytes of each body searched for a call id


@dataclass(frozen=True)
class Steps:
    """The requests a reproduction shows, in order, and where some of the check's were left out."""

    steps: list[Sent]
    left_out: dict[int, int] = field(default_factory=dict)  # index in `steps` -> requests left out before it


def _text(exchange: Exchange) -> str:
    sent = (exchange.body or b"")[:MAX_TEXT].decode("utf-8", "replace")
    answered = exchange.response_body[:MAX_TEXT].decode("utf-8", "replace")
    return f"{exchange.url}\n{sent}\n{answered}"


def mentioned(exchanges: Iterable[Exchange], calls: Iterable[str], title: str = "") -> list[str]:
    """Of `calls` (ids), those the exchanges (or the failure's `title`) name."""
    text = "\n".join([title, *(_text(e) for e in exchanges)])
    return [c for c in calls if c and c in text]


def _naming(ids: Collection[str]) -> re.Pattern[str] | None:
    """A search for any of `ids` as a whole id: not part of a longer one (the variants of an id the
    ID checks try, `<id>%20` or `<id>` and more hex digits, are requests on no call of the suite's)."""
    if not ids:
        return None
    either = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return re.compile(rf"(?<![\w%.~-])(?:{either})(?![\w%.~-])")


def _names(exchange: Exchange, naming: re.Pattern[str] | None) -> bool:
    return naming is not None and naming.search(_text(exchange)) is not None


def _is(exchange: Exchange, failing: Sequence[Exchange]) -> bool:
    return any(
        exchange is f or (exchange.method == f.method and exchange.url == f.url and exchange == f) for f in failing
    )


def choose(history: Sequence[Sent], failing: Sequence[Exchange], ids: Collection[str], setup: list[Exchange]) -> Steps:
    """The requests of `history` that concern `ids` up to the last `failing` one, the failing ones
    last if the history lacks them, and the `setup` (seeding) exchanges it lacks first."""
    last = max((n for n, s in enumerate(history) if _is(s.exchange, failing)), default=len(history) - 1)
    naming = _naming(ids)
    chosen = [s for s in history[: last + 1] if _is(s.exchange, failing) or _names(s.exchange, naming)]
    shown = [s.exchange for s in chosen]
    missing = [Sent(e) for e in setup if not _is(e, shown)]
    later = [Sent(e) for e in failing if not _is(e, shown)]
    steps = [*missing, *_in_sending_order(chosen), *later]
    return _bounded(steps, [n for n, s in enumerate(steps) if _is(s.exchange, setup) or created_id(s.exchange) in ids])


def _in_sending_order(chosen: list[Sent]) -> list[Sent]:
    """By the time each went: the history has them in the order their answers came."""
    if any(s.started is None for s in chosen):
        return chosen
    return sorted(chosen, key=lambda s: s.started or 0.0)


def _bounded(steps: list[Sent], seeding: list[int]) -> Steps:
    """At most `MAX_REQUESTS`: the seeding (at `seeding`) and the latest of the others."""
    if len(steps) <= MAX_REQUESTS:
        return Steps(steps)
    seeding = seeding[: MAX_REQUESTS // 2]
    others = [n for n in range(len(steps)) if n not in seeding]
    kept = sorted([*seeding, *others[len(others) - (MAX_REQUESTS - len(seeding)) :]])
    left_out = {}
    for at, (before, n) in enumerate(zip([-1, *kept], kept, strict=False)):
        if n - before > 1:
            left_out[at] = n - before - 1
    return Steps([steps[n] for n in kept], left_out)


def render(steps: Steps, secrets: Secrets, replay: str) -> str:
    """The curl lines (secrets redacted) with what came back, the marks, and the replay line."""
    lines: list[str] = []
    n = 0
    while n < len(steps.steps):
        if n in steps.left_out:
            lines.append(f"# ... {steps.left_out[n]} earlier requests on these calls left out")
        together = _in_flight_with(steps.steps, n, steps.left_out)
        if together > 1:
            lines.append(f"# the next {together} requests were sent concurrently (listed in the order they went)")
        lines += [s.exchange.curl(secrets) + f"   # -> {s.exchange.outcome()}" for s in steps.steps[n : n + together]]
        n += together
    lines.append(f"# replay the run: {replay}")
    return "\n".join(lines)


def _in_flight_with(steps: list[Sent], first: int, gaps: Collection[int]) -> int:
    """How many requests from `steps[first]` on were in flight together (1: it went alone), up to a gap."""
    until = steps[first].ended
    count = 1
    for n, step in enumerate(steps[first + 1 :], start=first + 1):
        if n in gaps or not step.overlaps(until):
            break
        count += 1
        until = max(until or 0.0, step.ended or 0.0)
    return count
