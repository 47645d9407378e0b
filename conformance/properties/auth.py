"""Contract section 2: both key headers, every 401, scopes, and auth before existence."""

from __future__ import annotations

from .. import calls
from ..checks import Context, check
from ..client import Exchange
from ..errors import NotExercised
from ._common import bad_auths, expect_unchanged

OPS_SCOPES: dict[calls.Op, str] = {"get": "calls:read", "cancel": "calls:cancel", "delete": "calls:delete"}


@check("auth_header_forms", "AUTH-BEARER", "AUTH-X-API-KEY")
def auth_header_forms(ctx: Context) -> None:
    """Every REST operation accepts the key in either header, and in both when they agree."""
    a = ctx.env.a
    forms = {"AUTH-BEARER": a.auth("bearer"), "AUTH-X-API-KEY": a.auth("x-api-key")}
    for requirement, headers in forms.items():
        queued = ctx.env.seed_call(a, "queued")
        ctx.expect_answer(requirement, calls.get(ctx.client, queued, headers), [200], what="get")
        ctx.expect_answer(requirement, calls.rest(ctx.client, "cancel", queued, headers), [200], what="cancel")
        created = ctx.env.note_created(calls.create(ctx.client, headers))
        ctx.expect_answer(requirement, created, [201], what="create")
        if ctx.env.can_seed_any_state:
            completed = ctx.env.seed_call(a, "completed")
            ctx.expect_answer(requirement, calls.rest(ctx.client, "delete", completed, headers), [200], what="delete")
    both = a.auth("bearer") | a.auth("x-api-key")
    queued = ctx.env.seed_call(a, "queued")
    for requirement in forms:
        ctx.expect_answer(requirement, calls.get(ctx.client, queued, both), [200], what="both headers, same key")


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
    state = "completed" if ctx.env.can_seed_any_state else "queued"
    target = ctx.env.seed_call(a, state)
    before = calls.snapshot(ctx.client, target, a.auth())
    for name, (headers, requirement) in bad_auths(ctx).items():
        for op in ("get", "cancel", "delete"):
            answer = calls.rest(ctx.client, op, target, headers)
            ctx.expect_answer(requirement, answer, [401], "UNAUTHORIZED", what=f"{name}, {op}")
        answer = ctx.env.note_created(calls.create(ctx.client, headers))
        ctx.expect_answer(requirement, answer, [401], "UNAUTHORIZED", what=f"{name}, create")
        expect_unchanged(ctx, requirement, a, target, before)


def _answer_key(exchange: Exchange) -> tuple[int | None, str | None, str | None]:
    return exchange.status, exchange.error_code, exchange.error_message


@check("auth_before_existence", "AUTH-BEFORE-EXISTENCE")
def auth_before_existence(ctx: Context) -> None:
    """Under failed auth, existing, deleted, foreign and unknown calls answer identically."""
    a, b = ctx.env.a, ctx.env.b
    ids = {"existing": ctx.env.seed_call(a, "completed" if ctx.env.can_seed_any_state else "queued")}
    if ctx.env.can_seed_any_state:
        ids["deleted"] = ctx.env.seed_call(a, "completed")
        calls.rest(ctx.client, "delete", ids["deleted"], a.auth())
    if b.key:
        ids["foreign"] = ctx.env.seed_call(b, "queued")
    ids["never existed"] = ctx.env.never_existing_id()
    refused = {name: headers for name, (headers, _) in bad_auths(ctx).items()}
    refused |= {f"key without {scope}": a.auth(key=key) for scope, key in a.keys_without.items()}
    for name, headers in refused.items():
        for op in ("get", "cancel", "delete"):
            if name.startswith("key without") and OPS_SCOPES[op] != name.removeprefix("key without "):
                continue  # that key may do this operation: nothing is refused
            answers = {kind: calls.rest(ctx.client, op, call_id, headers) for kind, call_id in ids.items()}
            distinct = {_answer_key(e) for e in answers.values()}
            summary = ", ".join(f"{kind}: {e.outcome()}" for kind, e in answers.items())
            ctx.expect(
                "AUTH-BEFORE-EXISTENCE",
                len(distinct) == 1,
                f"{name}, {op}: answers differ by call ({summary})",
                *answers.values(),
            )


@check("missing_scope", "AUTH-SCOPE-REFUSED", "AUTH-SCOPE-403")
def missing_scope(ctx: Context) -> None:
    """A key without the operation's scope is refused (403 FORBIDDEN), with no side effect."""
    a = ctx.env.a
    if not a.keys_without:
        raise NotExercised("no key without a scope (HUSKY_API_KEY_LIMITED or the fixtures API)")
    for op, scope in OPS_SCOPES.items():
        key = a.keys_without.get(scope)
        if key is None:
            continue
        for state in ("queued", "completed") if ctx.env.can_seed_any_state else ("queued",):
            call_id = ctx.env.seed_call(a, state)
            before = calls.snapshot(ctx.client, call_id, a.auth())
            answer = calls.rest(ctx.client, op, call_id, a.auth("x-api-key", key))
            ctx.expect_answer("AUTH-SCOPE-REFUSED", answer, [401, 403], what=f"{op} without {scope}")
            ctx.expect_answer("AUTH-SCOPE-403", answer, [403], "FORBIDDEN", what=f"{op} without {scope}")
            expect_unchanged(ctx, "AUTH-SCOPE-REFUSED", a, call_id, before, answer)
    key = a.keys_without.get("calls:create")
    if key is not None:
        answer = ctx.env.note_created(calls.create(ctx.client, a.auth("bearer", key)))
        ctx.expect_answer("AUTH-SCOPE-REFUSED", answer, [401, 403], what="create without calls:create")
        ctx.expect_answer("AUTH-SCOPE-403", answer, [403], "FORBIDDEN", what="create without calls:create")
