"""Contract section 6: the inbound webhook, and its equivalence with REST."""

from __future__ import annotations

from typing import Any

from conformance.contract.model import STATES, Op, listed_shape
from conformance.errors import NotExercised
from conformance.http.client import Exchange
from conformance.layers.checks import Context, check
from conformance.layers.properties._common import Sample, expect_unchanged, lasting_state, seeded
from conformance.target import calls


def _token(ctx: Context) -> str:
    return ctx.env.a.need_token()


def _normalised(exchange: Exchange, call_id: str) -> Any:
    return listed_shape(exchange.json(), call_id), exchange.status, exchange.error_code


@check("transport_equivalence", "HOOK-EQUIVALENCE")
def transport_equivalence(ctx: Context) -> None:
    """Cancel and delete over the webhook answer as over REST, state by state, and change state alike."""
    a, token = ctx.env.a, _token(ctx)
    states = STATES if ctx.env.can_seed_any_state else ("queued", "cancelled")
    for state, op in _state_ops(Sample(ctx, "transport_equivalence"), states):
        over_rest, over_hook = ctx.env.seed_call(a, state), ctx.env.seed_call(a, state)
        rest = calls.rest(ctx.client, op, over_rest, a.auth())
        hook = calls.hook(ctx.client, token, op, {"call_id": over_hook})
        what = f"{op} of a {state} call: REST {rest.outcome()}, webhook {hook.outcome()}"
        ctx.expect(
            "HOOK-EQUIVALENCE",
            _normalised(rest, over_rest) == _normalised(hook, over_hook),
            f"{what}: status, code or body shape differ",
            rest,
            hook,
        )
        after_rest = (calls.snapshot(ctx.client, over_rest, a.auth()) or {}).get("status", "gone")
        after_hook = (calls.snapshot(ctx.client, over_hook, a.auth()) or {}).get("status", "gone")
        ctx.expect(
            "HOOK-EQUIVALENCE",
            after_rest == after_hook,
            f"{what}: the call became {after_rest!r} over REST and {after_hook!r} over the webhook",
            rest,
            hook,
        )


ACTING: set[tuple[str, Op]] = {("queued", "cancel"), ("cancelled", "cancel"), ("completed", "delete")}


def _state_ops(sample: Sample, states: tuple[str, ...]) -> list[tuple[str, Op]]:
    """Cancel and delete in each state; sampled, only the three that answer 200 (cancel of a queued
    and of a cancelled call, delete of a completed one), where a transport can differ in what it
    does as well as in what it says; the refusals are compared at the other budgets."""
    ops: tuple[Op, ...] = ("cancel", "delete")
    pairs = [(state, op) for state in states for op in ops]
    return pairs if sample.every else [pair for pair in pairs if pair in ACTING]


@check("webhook_token", "HOOK-UNKNOWN-TOKEN-401", "AUTH-BEFORE-EXISTENCE")
def webhook_token(ctx: Context) -> None:
    """An unknown webhook token answers 401 UNAUTHORIZED, identically for every call, with no effect."""
    a, token = ctx.env.a, _token(ctx)
    existing = ctx.env.seed_call(a, lasting_state(ctx))
    before = calls.snapshot(ctx.client, existing, a.auth()) if a.key else None
    never = ctx.env.never_existing_id()
    bad_tokens = {
        "unknown": f"whk_unknown{ctx.env.rng.getrandbits(64):016x}",
        "truncated": token[:-1],
        "other case": token.swapcase(),
        "blank": " ",
    }
    for name in Sample(ctx, "webhook_token").one(list(bad_tokens)):
        bad = bad_tokens[name]
        for op in ("cancel", "delete"):
            answers = [calls.hook(ctx.client, bad, op, {"call_id": call_id}) for call_id in (existing, never)]
            for answer in answers:
                ctx.expect_answer("HOOK-UNKNOWN-TOKEN-401", answer, [401], "UNAUTHORIZED", what=f"{name} token, {op}")
            keys = {(e.status, e.error_code, e.error_message) for e in answers}
            ctx.expect(
                "AUTH-BEFORE-EXISTENCE",
                len(keys) == 1,
                f"{name} token, {op}: answers differ by call",
                *answers,
            )
        created = calls.hook(ctx.client, bad, "create", calls.CREATE_BODY)
        ctx.expect_answer(
            "HOOK-UNKNOWN-TOKEN-401",
            ctx.env.note_created(created),
            [401],
            "UNAUTHORIZED",
            what=f"{name} token, create",
        )
    if a.key:
        expect_unchanged(ctx, "HOOK-UNKNOWN-TOKEN-401", a, existing, before)


def _bad_bodies(call_id: str) -> dict[str, bytes | dict[str, Any] | list[Any]]:
    return {
        "unknown action": {"action": "call.explode", "data": {"call_id": call_id}},
        "missing data": {"action": "call.delete"},
        "missing call_id": {"action": "call.delete", "data": {}},
        "call_id of wrong type": {"action": "call.delete", "data": {"call_id": [call_id]}},
        "data of wrong type": {"action": "call.cancel", "data": call_id},
        "missing action": {"data": {"call_id": call_id}},
        "action of wrong type": {"action": ["call.delete"], "data": {"call_id": call_id}},
        "array": [{"action": "call.delete", "data": {"call_id": call_id}}],
        "not JSON": b'{"action": "call.delete", "data": {"call_id": ',
        "empty": b"",
    }


# The kinds of `_bad_bodies`: an action that means nothing, something missing, something of the
# wrong type, not a JSON object.
BAD_BODY_KINDS = (
    ("unknown action",),
    ("missing data", "missing call_id", "missing action"),
    ("call_id of wrong type", "data of wrong type", "action of wrong type"),
    ("array", "not JSON", "empty"),
)


@check("webhook_bad_bodies", "HOOK-BAD-BODY-REFUSED", "HOOK-BAD-BODY-400")
def webhook_bad_bodies(ctx: Context) -> None:
    """Bad webhook bodies naming a real call are refused (400 VALIDATION_ERROR) and change nothing."""
    a, token = ctx.env.a, _token(ctx)
    if a.key is None:
        raise NotExercised("no API key to read the call back")
    call_id, before = seeded(ctx, a)
    sample = Sample(ctx, "webhook_bad_bodies")
    every, bodies, answers = sample.every, _bad_bodies(call_id), []
    for name in list(bodies) if every else sample.each(BAD_BODY_KINDS):
        body = bodies[name]
        path = f"/v1/hooks/{token}"
        if isinstance(body, bytes):
            answer = ctx.client.request("POST", path, headers={"Content-Type": "application/json"}, content=body)
        else:
            answer = ctx.client.request("POST", path, json_body=body)
        ctx.expect_answer("HOOK-BAD-BODY-REFUSED", answer, range(400, 500), what=name)
        ctx.expect_answer("HOOK-BAD-BODY-400", answer, [400], "VALIDATION_ERROR", what=name)
        answers.append(answer)
        if every:
            expect_unchanged(ctx, "HOOK-BAD-BODY-REFUSED", a, call_id, before, answer)
    if not every:  # sampled: the call is read back once, after the bad bodies
        expect_unchanged(ctx, "HOOK-BAD-BODY-REFUSED", a, call_id, before, *answers)


@check("webhook_create", "HOOK-CREATE")
def webhook_create(ctx: Context) -> None:
    """call.create answers 200 with success, call_id and status queued, and the call exists."""
    a, token = ctx.env.a, _token(ctx)
    answer = ctx.env.note_created(calls.hook(ctx.client, token, "create", calls.CREATE_BODY))
    body = answer.json() if isinstance(answer.json(), dict) else {}
    ctx.expect_answer("HOOK-CREATE", answer, [200])
    ok = body.get("success") is True and body.get("status") == "queued" and isinstance(body.get("call_id"), str)
    ctx.expect("HOOK-CREATE", ok, f"call.create answered {answer.response_body[:200]!r}", answer)
    if ok and a.key:
        seen = calls.snapshot(ctx.client, body["call_id"], a.auth()) or {}
        ctx.expect(
            "HOOK-CREATE",
            seen.get("status") == "queued",
            f"the created call reads {seen.get('status')!r}",
            answer,
        )
