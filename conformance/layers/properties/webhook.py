"""Contract section 6: the inbound webhook, and its equivalence with REST."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from conformance.contract.model import STATES, Op, listed_shape
from conformance.errors import NotExercised
from conformance.http.client import Exchange
from conformance.layers.checks import check
from conformance.layers.context import Context
from conformance.layers.properties._common import Sample, expect_unchanged, lasting_state, seeded
from conformance.layers.properties.auth import flip_case
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


# The kinds of refused webhook tokens, in the order a run tries them: a sampled run tries one of each.
TOKEN_KINDS = ("unknown", "suffix", "case", "whitespace", "API key")
HOOK_OPS = ("cancel", "delete", "create")


def bad_tokens(ctx: Context, token: str) -> dict[str, tuple[str, str]]:
    """Every webhook token that must be refused (contract 6 and 2, 1.1), by name: (token, kind).
    A variant of the real token (anything added, removed or changed) or an API key is unknown."""
    a = ctx.env.a
    found = {
        "unknown": (f"whk_unknown{ctx.env.rng.getrandbits(64):016x}", "unknown"),
        "blank": (" ", "unknown"),
        "truncated": (token[:-1], "unknown"),
        "first character cut": (token[1:], "unknown"),
        "a prefix added": ("x" + token, "unknown"),
        "a character added": (token + "x", "suffix"),
        "a segment added": (token + "-0123456789abcdef", "suffix"),
        "other case": (token.swapcase(), "case"),
        "its last letter in other case": (flip_case(token, first=False), "case"),
        "a leading space": (" " + token, "whitespace"),
        "a trailing space": (token + " ", "whitespace"),
        "a trailing tab": (token + "\t", "whitespace"),
        "a space inside": (f"{token[: len(token) // 2]} {token[len(token) // 2 :]}", "whitespace"),
    }
    for name, key in (("the API key", a.key), ("the revoked API key", a.revoked_key)):
        if key:
            found[name] = (key, "API key")
    return {name: (value, kind) for name, (value, kind) in found.items() if value != token}


@check("webhook_token", "HOOK-UNKNOWN-TOKEN-401", "AUTH-BEFORE-EXISTENCE")
def webhook_token(ctx: Context) -> None:
    """Unknown webhook tokens (variants of the real one, API keys) answer 401 UNAUTHORIZED, identically
    for every call, with no effect; sampled, one token of each kind with a drawn action."""
    a, token = ctx.env.a, _token(ctx)
    existing = ctx.env.seed_call(a, lasting_state(ctx))
    before = calls.snapshot(ctx.client, existing, a.auth()) if a.key else None
    never = ctx.env.never_existing_id()
    sample = Sample(ctx, "webhook_token")
    found = bad_tokens(ctx, token)
    chosen = sample.each([[n for n, (_, k) in found.items() if k == kind] for kind in TOKEN_KINDS])
    for name in chosen:
        bad = found[name][0]
        if sample.every:
            for op in ("cancel", "delete"):
                _token_refused(ctx, name, bad, op, (existing, never))
            _token_refused(ctx, name, bad, "create", ())
        else:  # one drawn action; the first token also compares the call with one that never existed
            op = sample.one(HOOK_OPS)[0] if name != chosen[0] else sample.one(HOOK_OPS[:2])[0]
            _token_refused(ctx, name, bad, op, (existing, never) if name == chosen[0] else (existing,))
    if a.key:
        expect_unchanged(ctx, "HOOK-UNKNOWN-TOKEN-401", a, existing, before)


def _token_refused(ctx: Context, name: str, bad: str, op: str, ids: tuple[str, ...]) -> None:
    """`op` with the token `bad`, on each of `ids` (none: a create): 401, the same answer for every call."""
    if op == "create":
        answers = [ctx.env.note_created(calls.hook(ctx.client, bad, "create", calls.CREATE_BODY))]
    else:
        answers = [calls.hook(ctx.client, bad, op, {"call_id": call_id}) for call_id in ids]
    for answer in answers:
        ctx.expect_answer("HOOK-UNKNOWN-TOKEN-401", answer, [401], "UNAUTHORIZED", what=f"{name} token, {op}")
    if len(answers) > 1:
        keys = {(e.status, e.error_code, e.error_message) for e in answers}
        ctx.expect("AUTH-BEFORE-EXISTENCE", len(keys) == 1, f"{name} token, {op}: answers differ by call", *answers)


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


def _action_variants(op: str) -> dict[str, tuple[str, str]]:
    """The action `call.<op>` as an attacker might spell it, by name: (action, kind). Actions match
    exactly (contract 6, 1.1): each of these is an unknown action."""
    action = f"call.{op}"
    return {
        "in upper case": (action.upper(), "case"),
        "capitalised": (action.title(), "case"),
        "its verb in upper case": (f"call.{op.upper()}", "case"),
        "a leading space": (" " + action, "whitespace"),
        "a trailing space": (action + " ", "whitespace"),
        "a trailing newline": (action + "\n", "whitespace"),
        "a space inside": (f"call. {op}", "whitespace"),
        "another separator": (f"call_{op}", "spelling"),
        "no namespace": (op, "spelling"),
        "a plural namespace": (f"calls.{op}", "spelling"),
    }


@check("webhook_action_variants", "HOOK-BAD-BODY-REFUSED", "HOOK-BAD-BODY-400")
def webhook_action_variants(ctx: Context) -> None:
    """Actions in other case, with whitespace or spelt otherwise are unknown actions: refused (400
    VALIDATION_ERROR), the call left as it was and nothing created. Each variant of each action, a
    delete on a completed call, a cancel on a queued one; sampled, a create in other case and one
    with whitespace (a create taken shows at once, with no call to seed and read back)."""
    a, token = ctx.env.a, _token(ctx)
    if a.key is None:
        raise NotExercised("no API key to read the call back")
    sample = Sample(ctx, "webhook_action_variants")
    for op in ("create", "delete", "cancel") if sample.every else ("create",):
        variants = _action_variants(op)
        kinds = ("case", "whitespace", "spelling") if sample.every else ("case", "whitespace")
        names = sample.each([[n for n, (_, k) in variants.items() if k == kind] for kind in kinds])
        call_id = None if op == "create" else ctx.env.seed_call(a, _acting_state(ctx, op))
        before = calls.snapshot(ctx.client, call_id, a.auth()) if call_id else None
        answers = []
        for name in names:
            data = {"call_id": call_id} if call_id else dict(calls.CREATE_BODY)
            answer = ctx.client.request(
                "POST", _hook_path(token), json_body={"action": variants[name][0], "data": data}
            )
            _expect_refused(ctx, answer, f"call.{op} {name}")
            answers.append(answer)
        if call_id is not None:
            expect_unchanged(ctx, "HOOK-BAD-BODY-REFUSED", a, call_id, before, *answers)


def _acting_state(ctx: Context, op: str) -> str:
    """Where `op` would act on a call: completed for a delete (where the seeder can make one), queued for a cancel."""
    return "completed" if op == "delete" and ctx.env.can_seed("completed") else "queued"


def _hook_path(token: str) -> str:
    return f"/v1/hooks/{quote(token, safe='')}"


def _expect_refused(ctx: Context, answer: Exchange, what: str) -> None:
    """A refused webhook body: a 4xx (400 VALIDATION_ERROR), and no call came of it."""
    _note_answered(ctx, answer)
    ctx.expect_answer("HOOK-BAD-BODY-REFUSED", answer, range(400, 500), what=what)
    ctx.expect_answer("HOOK-BAD-BODY-400", answer, [400], "VALIDATION_ERROR", what=what)
    _expect_nothing_created(ctx, answer, what)


def _note_answered(ctx: Context, answer: Exchange) -> None:
    """A call the answer shows was made by the suite's request: into the ledger, for the clean-up."""
    shown = calls.answered_call(answer)
    if shown is not None and isinstance(shown.get("call_id"), str) and answer.status in (200, 201):
        ctx.env.created_now(shown["call_id"], ctx.env.a, shown.get("status"))


# Words of a refusal's message that could be a call id: 6 or more id characters, a digit among them.
_ID_LIKE = re.compile(r"(?<![\w-])(?=[\w-]*\d)[\w-]{6,}(?![\w-])")


def _expect_nothing_created(ctx: Context, answer: Exchange, what: str) -> None:
    """No call the refusal names (a `call_id` in its body, an id in its message) exists: a body that
    is refused creates nothing (contract 6, 1.1). Only read, never cancelled or deleted."""
    body = answer.json() if isinstance(answer.json(), dict) else {}
    named = [body.get("call_id"), *_ID_LIKE.findall(answer.error_message or "")]
    for call_id in [c for c in dict.fromkeys(named) if isinstance(c, str)][:4]:
        seen = calls.get(ctx.client, call_id, ctx.env.a.auth())
        title = f"{what}: refused, but the call it names exists ({seen.outcome()})"
        ctx.expect("HOOK-BAD-BODY-REFUSED", seen.status != 200, title, answer, seen)


NUMBER = calls.CREATE_BODY["contact_number"]
# `call.create` bodies that `POST /v1/calls` refuses (contract 5), by kind: something missing, a value
# out of its pattern, a value of the wrong type.
INVALID_CREATES: dict[str, tuple[dict[str, Any], str]] = {
    "no agent_id": ({"contact_number": NUMBER}, "missing"),
    "no contact_number": ({"agent_id": "agent_conformance"}, "missing"),
    "an empty agent_id": ({"agent_id": "", "contact_number": NUMBER}, "value"),
    "a number of another country": ({"agent_id": "agent_conformance", "contact_number": "+19800000000"}, "value"),
    "a short number": ({"agent_id": "agent_conformance", "contact_number": "+91980000"}, "value"),
    "a number with a space": ({"agent_id": "agent_conformance", "contact_number": "+91 9800000000"}, "value"),
    **{
        f"a number with {name}": ({**calls.CREATE_BODY, "contact_number": n}, "value")
        for name, n in calls.LOOSE_NUMBERS.items()
    },
    "an agent_id that is a number": ({"agent_id": 7, "contact_number": NUMBER}, "type"),
    "a contact_name that is a number": ({**calls.CREATE_BODY, "contact_name": 7}, "type"),
    "a contact_email that is a list": ({**calls.CREATE_BODY, "contact_email": ["a@example.invalid"]}, "type"),
    "additional_info that is a string": ({**calls.CREATE_BODY, "additional_info": "note"}, "type"),
    "additional_info that is a list": ({**calls.CREATE_BODY, "additional_info": [1]}, "type"),
}


@check("webhook_invalid_create", "HOOK-BAD-BODY-REFUSED", "HOOK-BAD-BODY-400")
def webhook_invalid_create(ctx: Context) -> None:
    """`call.create` validates `data` as `POST /v1/calls` does: a body REST refuses is refused (400
    VALIDATION_ERROR) and creates nothing (no call the refusal names exists). Sampled: one drawn."""
    token = _token(ctx)
    if ctx.env.a.key is None:
        raise NotExercised("no API key to read back a call the refusal names")
    sample = Sample(ctx, "webhook_invalid_create")
    names = list(INVALID_CREATES) if sample.every else sample.one(list(INVALID_CREATES))
    for name in names:
        body = {"action": "call.create", "data": INVALID_CREATES[name][0]}
        answer = ctx.client.request("POST", _hook_path(token), json_body=body)
        _expect_refused(ctx, answer, f"call.create with {name}")
