"""Repeat delete and repeat cancel (contract section 5): at once and after a pause, over each transport
and across them; and what a delete leaves behind over time (contract 1.1, section 5)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from conformance.config import REQUEST_CAPS
from conformance.contract.model import Op, body_ok, listed_fields
from conformance.http.client import Exchange
from conformance.layers.checks import check, prepares
from conformance.layers.context import Context
from conformance.layers.properties import erasure
from conformance.layers.properties._common import Sample
from conformance.target import calls

KEEP_CREATING = {"every": 3, "sample": 0}  # creates after the deletes: none may get a deleted id


def _transports(ctx: Context) -> tuple[str, ...]:
    return ("rest", "webhook") if ctx.env.a.webhook_token else ("rest",)


def _op(ctx: Context, transport: str, op: Op, call_id: str, n: int = 0) -> Exchange:
    """`op` over `transport`; over REST in the header form `n` picks."""
    a = ctx.env.a
    headers = a.auth("bearer" if n % 2 else "x-api-key")
    return calls.call_op(ctx.client, transport, op, call_id, headers=headers, token=a.webhook_token or "")


@check("repeat_delete", "DEL-COMPLETED-200", "DEL-REPEAT-404", "DEL-GONE", "HOOK-EQUIVALENCE")
def repeat_delete(ctx: Context) -> None:
    """Deleting a completed call answers 200 once, then 404 NOT_FOUND every time after, over each
    transport and across them (the same answer over both). Sampled: the first delete's transport drawn."""
    ctx.env.need_state("completed")
    transports, sample = _transports(ctx), Sample(ctx, "repeat_delete")
    for first_over in sample.one(transports):
        call_id = ctx.env.seed_call(ctx.env.a, "completed")
        first = _op(ctx, first_over, "delete", call_id)
        what = f"first delete, over {first_over}"
        ctx.expect_answer("DEL-COMPLETED-200", first, [200], what=what)
        ctx.expect(
            "DEL-COMPLETED-200",
            body_ok("deleted", first.json(), call_id),
            f"{what}: body {first.response_body[:200]!r}, expected {{'data': {{'call_id', 'deleted': true}}}}",
            first,
        )
        _expect_repeats_refused(ctx, call_id, f"at once after a delete over {first_over}", transports, sample.every)


def _expect_repeats_refused(ctx: Context, call_id: str, when: str, transports: tuple[str, ...], every: bool) -> None:
    """A delete of the deleted call over each of `transports` (over REST in both key headers if
    `every`): 404 NOT_FOUND, the same over both transports."""
    forms = {"rest": 2 if every else 1, "webhook": 1}
    again = [(t, _op(ctx, t, "delete", call_id, n)) for t in transports for n in range(forms[t])]
    with ctx.deferred():
        for transport, answer in again:
            what = f"repeat delete over {transport}, {when}"
            ctx.expect_answer("DEL-REPEAT-404", answer, [404], "NOT_FOUND", what=what)
            ctx.expect_answer("DEL-GONE", answer, [404], what=what)  # a delete of a deleted id, too
        rests = [answer for transport, answer in again if transport == "rest"]
        hooks = [answer for transport, answer in again if transport == "webhook"]
        for rest, hook in itertools.product(rests, hooks):
            ctx.expect(
                "HOOK-EQUIVALENCE",
                (rest.status, rest.error_code) == (hook.status, hook.error_code),
                f"repeat delete {when}: REST answered {rest.outcome()}, the webhook {hook.outcome()}",
                rest,
                hook,
            )


@check("repeat_cancel", "CANCEL-QUEUED-200", "CANCEL-REPEAT-200")
def repeat_cancel(ctx: Context) -> None:
    """Cancelling the same call again and again, over each transport and across them, answers the
    same 200. Sampled: the first cancel's transport drawn, one repeat over the other."""
    sample = Sample(ctx, "repeat_cancel")
    for first_over in sample.one(_transports(ctx)):
        call_id = ctx.env.seed_call(ctx.env.a, "queued")
        first = _op(ctx, first_over, "cancel", call_id)
        others = tuple(t for t in _transports(ctx) if t != first_over) or ("rest",)
        repeats = (*_transports(ctx), "rest") if sample.every else others
        _expect_first_cancel(ctx, call_id, first)
        again = [_op(ctx, t, "cancel", call_id, n + 1) for n, t in enumerate(repeats)]
        _expect_same_cancel(ctx, call_id, first, again, "at once")


def _expect_first_cancel(ctx: Context, call_id: str, first: Exchange) -> None:
    """The first cancel of a queued call: 200 and the flat cancel body, over either transport."""
    _expect_cancelled("CANCEL-QUEUED-200", ctx, call_id, first, f"first cancel, over {_transport_of(first)}")


def _expect_cancelled(requirement: str, ctx: Context, call_id: str, answer: Exchange, what: str) -> None:
    """200 and the flat cancel body: `success` the boolean true, the path id, status `cancelled`."""
    ctx.expect_answer(requirement, answer, [200], what=what)
    ctx.expect(
        requirement,
        body_ok("cancelled", answer.json(), call_id),
        f"{what}: body {answer.response_body[:200]!r}, expected"
        ' {"success": true, "call_id": the path id, "status": "cancelled", "message"}',
        answer,
    )


def _expect_same_cancel(ctx: Context, call_id: str, first: Exchange, answers: list[Exchange], when: str) -> None:
    """Each repeat cancel: 200, the documented body (flat, `success` the boolean true, status `cancelled`,
    the path id), and the first cancel's values of the fields the contract lists."""
    with ctx.deferred():
        for n, answer in enumerate(answers, start=2):
            what = f"cancel #{n} {when}, over {_transport_of(answer)}"
            _expect_cancelled("CANCEL-REPEAT-200", ctx, call_id, answer, what)
            ctx.expect(
                "CANCEL-REPEAT-200",
                listed_fields(answer.json()) == listed_fields(first.json()),  # extra fields may differ
                f"{what} answered {answer.response_body[:200]!r}, the first {first.response_body[:200]!r}",
                first,
                answer,
            )


def _transport_of(exchange: Exchange) -> str:
    return "the webhook" if "/v1/hooks/" in exchange.url else "REST"


@check(
    "over_time",
    "DEL-COMPLETED-200",
    "DEL-GONE",
    "DEL-ERASURE",
    "DEL-REPEAT-404",
    "CANCEL-REPEAT-200",
    "TENANT-UNTOUCHED",
    "ID-NEVER-REUSED",
)
def over_time(ctx: Context) -> None:
    """Calls seeded with the whole range of data are deleted a pause (`Budget.pause_seconds`) after
    their seeding, over each transport, and queued calls cancelled; at once and again a pause later:
    a deleted call stays gone and erased (no cache, replica or late job brings it back), a new call
    for its number gets none of its data and none of its ids, calls of both organisations sharing
    its contact details keep theirs, and repeat deletes and cancels answer as at once."""
    ctx.env.need_state("completed")
    every, transports = Sample(ctx, "over_time").every, _transports(ctx)
    pause = ctx.config.budget.pause_seconds
    victims, sharers, seeded_at = ctx.prepared.pop("over_time", None) or _seed_over_time(ctx)
    # A replica or a queue that applies writes L seconds late serves a deleted call to reads between
    # its seeding + L and its delete + L: deleted a pause after their seeding, the victims are read
    # at once and a pause later, which finds any L up to two pauses.
    ctx.client.sleep(max(0.0, seeded_at + pause - time.monotonic()))
    queued = ctx.env.seed_call(ctx.env.a, "queued")  # after the pause: a target's own agents move calls on
    for n, victim in enumerate(victims):
        erasure.delete_victim(ctx, victim, transports[n % len(transports)], reads=every or n == 0)
    first_cancel = _op(ctx, transports[-1], "cancel", queued)
    start = time.monotonic()  # the pause runs from the last delete or cancel
    made = erasure.expect_no_autofill(ctx, victims[1], KEEP_CREATING["every" if every else "sample"])
    if every:
        erasure.expect_sharers_kept(ctx, sharers, "after the delete")
    ctx.client.sleep(max(0.0, start + pause - time.monotonic()))
    with ctx.coverage.tagged(timing="after the pause"):
        when = f"{pause:g} s after the delete"
        erasure.read_again(ctx, victims, when, every=every)
        for n, victim in enumerate(victims[: len(transports)]):
            _expect_repeats_refused(ctx, victim.call_id, when, transports if every else transports[n : n + 1], every)
        repeats = [_op(ctx, t, "cancel", queued, n) for n, t in enumerate(transports if every else transports[:1])]
        _expect_same_cancel(ctx, queued, first_cancel, repeats, f"{pause:g} s after the first")
        erasure.expect_sharers_kept(ctx, sharers, when)
    _expect_no_deleted_id(ctx, victims, made)


@prepares("over_time")
def _over_time_early(ctx: Context) -> None:
    """When the run opens: `over_time`'s calls seeded, so that their first pause passes while the
    checks before it run (a run of `over_time` alone waits it out). Not on a small budget (under
    the smoke budget's cap), whose first requests the cheapest checks need."""
    small = 0 < ctx.client.max_requests < REQUEST_CAPS["smoke"]
    if not small and ctx.env.can_seed("completed"):
        ctx.prepared["over_time"] = _seed_over_time(ctx)


def _seed_over_time(ctx: Context) -> tuple[list[erasure.Victim], erasure.Sharers, float]:
    """`over_time`'s victims and the calls sharing their contact details, and when the victims were seeded."""
    victims = erasure.varied_victims(ctx, "-time")
    seeded_at = time.monotonic()
    return victims, _seed_sharers(ctx, victims, Sample(ctx, "over_time").every), seeded_at


def _seed_sharers(ctx: Context, victims: list[erasure.Victim], every: bool) -> erasure.Sharers:
    """Live calls with the number of the first victim (the sparse one) and the name and email of the
    second (the long, non-BMP one), and those contact details."""
    shared: dict[str, Any] = {
        "contact_number": victims[0].pii["contact_number"],
        "contact_name": victims[1].pii.get("contact_name"),
        "contact_email": victims[1].pii.get("contact_email"),
    }
    return erasure.seed_sharers(ctx, shared, every=every)


def _expect_no_deleted_id(ctx: Context, victims: list[erasure.Victim], made: list[str]) -> None:
    deleted = {v.call_id for v in victims}
    reused = sorted(deleted & set(made))
    ctx.expect("ID-NEVER-REUSED", not reused, f"a create after the deletes answered a deleted call's id {reused[:1]}")
