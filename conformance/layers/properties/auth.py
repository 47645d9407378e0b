"""Contract section 2: both key headers, every 401, scopes, and auth before existence."""

from __future__ import annotations

from typing import Literal

from conformance.contract.model import SCOPE_OF, Op
from conformance.errors import NotExercised
from conformance.http.client import Exchange
from conformance.layers.checks import Context, check
from conformance.layers.properties._common import (
    BadAuth,
    Sample,
    bad_auths,
    expect_unchanged,
    expect_unchanged_by,
    lasting_state,
    seeded,
)
from conformance.target import calls

REST_OPS: tuple[Op, ...] = ("get", "cancel", "delete")
OpOrCreate = Literal["get", "cancel", "delete", "create"]


@check("auth_header_forms", "AUTH-BEARER", "AUTH-X-API-KEY")
def auth_header_forms(ctx: Context) -> None:
    """Every REST operation accepts the key in either header, and in both when they agree."""
    a = ctx.env.a
    forms = {"AUTH-BEARER": a.auth("bearer"), "AUTH-X-API-KEY": a.auth("x-api-key")}
    ops: tuple[OpOrCreate, ...] = ("get", "cancel", "create", "delete")
    ops = ops if ctx.env.can_seed("completed") else ops[:3]
    sample = Sample(ctx, "auth_header_forms")
    seeded: list[str] = []  # a queued call, seeded when an operation first needs it (each form its own)
    for requirement, headers in forms.items():
        seeded = [] if sample.every else seeded
        for op in sample.one(ops):
            if op == "create":
                answer = ctx.env.note_created(calls.create(ctx.client, headers))
            elif op == "delete":
                answer = calls.rest(ctx.client, "delete", ctx.env.seed_call(a, "completed"), headers)
            else:
                seeded = seeded or [ctx.env.seed_call(a, "queued")]
                answer = calls.rest(ctx.client, op, seeded[0], headers)
            ctx.expect_answer(requirement, answer, [201 if op == "create" else 200], what=op)
    both = a.auth("bearer") | a.auth("x-api-key")
    if sample.every:
        queued = ctx.env.seed_call(a, "queued")
        for requirement in forms:
            ctx.expect_answer(requirement, calls.get(ctx.client, queued, both), [200], what="both headers, same key")
    else:  # sampled: one call for both forms and both headers, and one request with both headers checks both
        answer = calls.get(ctx.client, (seeded or [ctx.env.seed_call(a, "queued")])[0], both)
        for requirement in forms:
            ctx.expect_answer(requirement, answer, [200], what="both headers, same key")


@check(
    "auth_rejections",
    "AUTH-MISSING-401",
    "AUTH-MALFORMED-401",
    "AUTH-UNKNOWN-401",
    "AUTH-REVOKED-401",
    "AUTH-HEADERS-DISAGREE-401",
)
def auth_rejections(ctx: Context) -> None:
    """Missing, empty, malformed, unknown, revoked and disagreeing keys: 401, and nothing happens."""
    a = ctx.env.a
    target, before = seeded(ctx, a)
    sample = Sample(ctx, "auth_rejections")
    answers, requirements = [], []
    ops: tuple[OpOrCreate, ...] = ("get", "cancel", "delete", "create")
    for name, (headers, requirement) in _one_per_requirement(sample, bad_auths(ctx)).items():
        for op in sample.one(ops):
            if op == "create":
                answer = ctx.env.note_created(calls.create(ctx.client, headers))
            else:
                answer = calls.rest(ctx.client, op, target, headers)
            ctx.expect_answer(requirement, answer, [401], "UNAUTHORIZED", what=f"{name}, {op}")
            answers.append(answer)
        requirements.append(requirement)
        if sample.every:
            expect_unchanged(ctx, requirement, a, target, before)
    if not sample.every:  # sampled: the call is read back once, after every refused request
        expect_unchanged_by(ctx, requirements, a, target, before, *answers)


def _one_per_requirement(sample: Sample, auths: dict[str, BadAuth]) -> dict[str, BadAuth]:
    """Every failing credential; or one of those for each requirement, drawn."""
    by_requirement: dict[str, list[str]] = {}
    for name, (_, requirement) in auths.items():
        by_requirement.setdefault(requirement, []).append(name)
    chosen = set(sample.each(by_requirement.values()))
    return {name: auth for name, auth in auths.items() if name in chosen}


def _answer_key(exchange: Exchange) -> tuple[int | None, str | None, str | None]:
    return exchange.status, exchange.error_code, exchange.error_message


@check("auth_before_existence", "AUTH-BEFORE-EXISTENCE")
def auth_before_existence(ctx: Context) -> None:
    """Under failed auth, existing, deleted, foreign and unknown calls answer identically."""
    a, b = ctx.env.a, ctx.env.b
    ids = {"existing": ctx.env.seed_call(a, lasting_state(ctx))}
    if ctx.env.can_seed("completed"):
        ids["deleted"] = ctx.env.seed_call(a, "completed")
        calls.rest(ctx.client, "delete", ids["deleted"], a.auth())
    if b.key:
        ids["foreign"] = ctx.env.seed_call(b, "queued")
    ids["never existed"] = ctx.env.never_existing_id()
    for name, op, headers in _refusals(ctx):
        answers = {kind: calls.rest(ctx.client, op, call_id, headers) for kind, call_id in ids.items()}
        distinct = {_answer_key(e) for e in answers.values()}
        summary = ", ".join(f"{kind}: {e.outcome()}" for kind, e in answers.items())
        ctx.expect(
            "AUTH-BEFORE-EXISTENCE",
            len(distinct) == 1,
            f"{name}, {op}: answers differ by call ({summary})",
            *answers.values(),
        )


def _refusals(ctx: Context) -> list[tuple[str, Op, dict[str, str]]]:
    """(name, operation, headers) of every refused request: each failing credential with each
    operation, then each key without a scope with the operation that needs it. Sampled: one
    failing credential with one operation, and one key without a scope."""
    a, ops = ctx.env.a, REST_OPS
    failing = [(name, op, headers) for name, (headers, _) in bad_auths(ctx).items() for op in ops]
    lacking = [
        (f"key without {scope}", op, a.auth(key=key))
        for scope, key in a.keys_without.items()
        for op in ops
        if SCOPE_OF[op] == scope
    ]
    sample = Sample(ctx, "auth_before_existence")
    return failing + lacking if sample.every else sample.each([failing, lacking])


@check("missing_scope", "AUTH-SCOPE-REFUSED", "AUTH-SCOPE-403")
def missing_scope(ctx: Context) -> None:
    """A key without the operation's scope is refused (403 FORBIDDEN), with no side effect."""
    a = ctx.env.a
    if not a.keys_without:
        raise NotExercised("no key without a scope (HUSKY_API_KEY_LIMITED or the fixtures API)")
    lacking = [(op, scope, a.keys_without[scope]) for op, scope in SCOPE_OF.items() if scope in a.keys_without]
    states = ("queued", "completed") if ctx.env.can_seed("completed") else ("queued",)
    sample = Sample(ctx, "missing_scope")
    if sample.every:
        for op, scope, lacking_key in lacking:
            for state in states:
                call_id = ctx.env.seed_call(a, state)
                before = calls.snapshot(ctx.client, call_id, a.auth())
                answer = _without_scope(ctx, op, scope, lacking_key, call_id)
                expect_unchanged(ctx, "AUTH-SCOPE-REFUSED", a, call_id, before, answer)
    else:  # one call in a drawn state, refused each operation, then read back once
        call_id = ctx.env.seed_call(a, sample.one(states)[0])
        before = calls.snapshot(ctx.client, call_id, a.auth())
        answers = [_without_scope(ctx, op, scope, lacking_key, call_id) for op, scope, lacking_key in lacking]
        expect_unchanged(ctx, "AUTH-SCOPE-REFUSED", a, call_id, before, *answers)
    key = a.keys_without.get("calls:create")
    if key is not None:
        answer = ctx.env.note_created(calls.create(ctx.client, a.auth("bearer", key)))
        ctx.expect_answer("AUTH-SCOPE-REFUSED", answer, [401, 403], what="create without calls:create")
        ctx.expect_answer("AUTH-SCOPE-403", answer, [403], "FORBIDDEN", what="create without calls:create")


def _without_scope(ctx: Context, op: Op, scope: str, key: str, call_id: str) -> Exchange:
    answer = calls.rest(ctx.client, op, call_id, ctx.env.a.auth("x-api-key", key))
    ctx.expect_answer("AUTH-SCOPE-REFUSED", answer, [401, 403], what=f"{op} without {scope}")
    ctx.expect_answer("AUTH-SCOPE-403", answer, [403], "FORBIDDEN", what=f"{op} without {scope}")
    return answer
