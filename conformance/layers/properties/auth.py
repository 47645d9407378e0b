"""Contract section 2: both key headers, every 401, scopes, and auth before existence."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Literal

from conformance.contract.model import SCOPE_OF, Op
from conformance.errors import NotExercised
from conformance.http.client import Exchange
from conformance.layers.checks import check
from conformance.layers.context import Context
from conformance.layers.properties._common import (
    Sample,
    bad_auths,
    expect_unchanged,
    expect_unchanged_by,
    lasting_state,
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


@dataclass(frozen=True)
class Refusal:
    """A credential that must be refused: its headers, the requirement its 401 proves, and its kind
    (a sampled run tries one credential of each kind)."""

    headers: dict[str, str]
    requirement: str
    kind: str


# The kinds, in the order a run tries them. "suffix" and "case" stand alone: a key column cut to its
# length, or compared in a case-insensitive collation, accepts those and nothing else of "unknown".
REFUSAL_KINDS = (
    "missing",
    "headers disagree",
    "revoked, Bearer",
    "revoked, x-api-key",
    "empty",  # or otherwise malformed
    "other scheme",
    "bare key",
    "unknown",
    "suffix",
    "case",
    "webhook token as key",
)


def refusals(ctx: Context) -> dict[str, Refusal]:
    """Every credential a REST request must be refused with (contract 2, 1.1), by name: each rule
    under both key headers, and variants of a real key and token (HTTP strips the whitespace
    around a header value, so only whitespace inside a key can reach the server)."""
    a, b = ctx.env.a, ctx.env.b
    key = a.need_key()
    unknown = f"sk_test_unknown{ctx.env.rng.getrandbits(64):016x}"
    found = {
        "missing": Refusal({}, "AUTH-MISSING-401", "missing"),
        "headers disagree": Refusal(
            {"Authorization": f"Bearer {key}", "x-api-key": b.key or unknown},
            "AUTH-HEADERS-DISAGREE-401",
            "headers disagree",
        ),
        "empty x-api-key": Refusal({"x-api-key": ""}, "AUTH-MALFORMED-401", "empty"),
        "Bearer without a key": Refusal({"Authorization": "Bearer"}, "AUTH-MALFORMED-401", "empty"),
        "bare key": Refusal({"Authorization": key}, "AUTH-MALFORMED-401", "bare key"),
        "scheme inside x-api-key": Refusal({"x-api-key": f"Bearer {key}"}, "AUTH-UNKNOWN-401", "unknown"),
    }
    basic = base64.b64encode(f"{key}:".encode()).decode()
    for scheme in ("Basic", "Token"):  # a server that reads past any scheme takes these
        found[f"{scheme} scheme"] = Refusal({"Authorization": f"{scheme} {key}"}, "AUTH-MALFORMED-401", "other scheme")
    found["Basic credentials"] = Refusal({"Authorization": f"Basic {basic}"}, "AUTH-MALFORMED-401", "empty")
    variants = {"an unknown key": (unknown, "unknown"), **_altered(key)}
    if a.webhook_token:
        variants["the webhook token"] = (a.webhook_token, "webhook token as key")
    for name, (value, kind) in variants.items():
        found |= _in_both_headers(name, value, "AUTH-UNKNOWN-401", kind)
    if a.revoked_key:
        for form in ("Bearer", "x-api-key"):
            found[f"revoked key, {form}"] = Refusal(
                _header(form, a.revoked_key), "AUTH-REVOKED-401", f"revoked, {form}"
            )
    else:
        ctx.results.skip(("AUTH-REVOKED-401",), "no revoked key: only the fixtures API can make one")
    return found


def _altered(key: str) -> dict[str, tuple[str, str]]:
    """A real key with something added, removed or changed (contract 2, 1.1): name -> (value, kind)."""
    half = len(key) // 2
    found = {
        "a prefix added": ("x" + key, "unknown"),
        "the last character cut": (key[:-1], "unknown"),
        "the first character cut": (key[1:], "unknown"),
        "a space inside": (f"{key[:half]} {key[half:]}", "unknown"),
        "a character added": (key + "x", "suffix"),
        "sixteen characters added": (key + "0123456789abcdef", "suffix"),
        "in other case": (key.swapcase(), "case"),
        "its first letter in other case": (flip_case(key, first=True), "case"),
        "its last letter in other case": (flip_case(key, first=False), "case"),
    }
    kept: dict[str, tuple[str, str]] = {}
    for name, (value, kind) in found.items():
        if value != key and value not in (v for v, _ in kept.values()):  # a key without letters has no case
            kept[name] = (value, kind)
    return kept


def flip_case(text: str, *, first: bool) -> str:
    """`text` with the case of its first (or last) letter changed. Unlike upper or lower case, this
    changes any text holding a letter, so a recorded run's placeholders vary exactly as its keys did."""
    where = [i for i, char in enumerate(text) if char.swapcase() != char]
    if not where:
        return text
    i = where[0] if first else where[-1]
    return text[:i] + text[i].swapcase() + text[i + 1 :]


def _header(form: str, value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"} if form == "Bearer" else {"x-api-key": value}


def _in_both_headers(name: str, value: str, requirement: str, kind: str) -> dict[str, Refusal]:
    return {f"{name}, {form}": Refusal(_header(form, value), requirement, kind) for form in ("Bearer", "x-api-key")}


def _drawn(sample: Sample, found: dict[str, Refusal]) -> dict[str, Refusal]:
    """Every refused credential; or one of each kind, drawn."""
    kinds = [[name for name, r in found.items() if r.kind == kind] for kind in REFUSAL_KINDS]
    chosen = set(sample.each(kinds))
    return {name: refusal for name, refusal in found.items() if name in chosen}


@check(
    "auth_rejections",
    "AUTH-MISSING-401",
    "AUTH-MALFORMED-401",
    "AUTH-UNKNOWN-401",
    "AUTH-REVOKED-401",
    "AUTH-HEADERS-DISAGREE-401",
)
def auth_rejections(ctx: Context) -> None:
    """Every refused credential, under both key headers, with every operation: 401, and nothing happens."""
    a = ctx.env.a
    sample = Sample(ctx, "auth_rejections")
    targets = _rejection_targets(ctx, sample.every)
    befores = {call_id: calls.snapshot(ctx.client, call_id, a.auth()) for call_id in dict.fromkeys(targets.values())}
    answers, requirements = [], []
    drawn = _drawn(sample, refusals(ctx))
    for kind in REFUSAL_KINDS:
        for name, refusal in ((n, r) for n, r in drawn.items() if r.kind == kind):
            for op in sample.one(OPS):
                answers.append(_refused(ctx, op, targets, refusal, name))
            requirements.append(refusal.requirement)
        if sample.every and any(r.kind == kind for r in drawn.values()):  # read back after each kind
            for call_id, before in befores.items():
                expect_unchanged_by(ctx, requirements[-1:], a, call_id, before)
    if not sample.every:  # sampled: the call is read back once, after every refused request
        for call_id, before in befores.items():
            expect_unchanged_by(ctx, requirements, a, call_id, before, *answers)


OPS: tuple[OpOrCreate, ...] = ("get", "cancel", "delete", "create")


def _rejection_targets(ctx: Context, every: bool) -> dict[OpOrCreate, str]:
    """The call each operation is refused on: where it would act (cancel a queued call, the others a
    completed one); sampled, one completed call for all of them (a cancel that got through answers 409)."""
    a = ctx.env.a
    state = "completed" if ctx.env.can_seed("completed") else "queued"
    main = ctx.env.seed_call(a, state)
    queued = ctx.env.seed_call(a, "queued") if every and state != "queued" else main
    return {"get": main, "cancel": queued, "delete": main}


def _refused(ctx: Context, op: OpOrCreate, targets: dict[OpOrCreate, str], refusal: Refusal, name: str) -> Exchange:
    if op == "create":
        answer = ctx.env.note_created(calls.create(ctx.client, refusal.headers))
    else:
        answer = calls.rest(ctx.client, op, targets[op], refusal.headers)
    ctx.expect_answer(refusal.requirement, answer, [401], "UNAUTHORIZED", what=f"{name}, {op}")
    return answer


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


FORMS = ("bearer", "x-api-key")


@check("missing_scope", "AUTH-SCOPE-REFUSED", "AUTH-SCOPE-403")
def missing_scope(ctx: Context) -> None:
    """A key without the operation's scope is refused (403 FORBIDDEN) under either key header, with no
    side effect: the scopes judged are those of the key sent, not of its organisation's other keys."""
    a = ctx.env.a
    if not a.keys_without:
        raise NotExercised("no key without a scope (HUSKY_API_KEY_LIMITED or the fixtures API)")
    lacking = [(op, scope, a.keys_without[scope]) for op, scope in SCOPE_OF.items() if scope in a.keys_without]
    states = ("queued", "completed") if ctx.env.can_seed("completed") else ("queued",)
    sample = Sample(ctx, "missing_scope")
    if sample.every:  # each operation, in each state, under both headers
        for op, scope, lacking_key in lacking:
            for state in states:
                call_id = ctx.env.seed_call(a, state)
                before = calls.snapshot(ctx.client, call_id, a.auth())
                answers = [_without_scope(ctx, op, scope, lacking_key, call_id, form) for form in FORMS]
                expect_unchanged(ctx, "AUTH-SCOPE-REFUSED", a, call_id, before, *answers)
        create_forms: tuple[str, ...] = FORMS
    else:  # one call in a drawn state, refused each operation, the headers taken in turn; read back once
        call_id = ctx.env.seed_call(a, sample.one(states)[0])
        before = calls.snapshot(ctx.client, call_id, a.auth())
        turn = sample.rng.randrange(len(FORMS))
        forms = [FORMS[(turn + i) % len(FORMS)] for i in range(len(lacking) + 1)]
        answers = [_without_scope(ctx, *lacked, call_id, form) for lacked, form in zip(lacking, forms, strict=False)]
        expect_unchanged(ctx, "AUTH-SCOPE-REFUSED", a, call_id, before, *answers)
        create_forms = (forms[-1],)
    key = a.keys_without.get("calls:create")
    for form in create_forms if key is not None else ():
        answer = ctx.env.note_created(calls.create(ctx.client, a.auth(form, key)))
        ctx.expect_answer("AUTH-SCOPE-REFUSED", answer, [401, 403], what=f"create without calls:create, {form}")
        ctx.expect_answer("AUTH-SCOPE-403", answer, [403], "FORBIDDEN", what=f"create without calls:create, {form}")


def _without_scope(ctx: Context, op: Op, scope: str, key: str, call_id: str, form: str) -> Exchange:
    answer = calls.rest(ctx.client, op, call_id, ctx.env.a.auth(form, key))
    what = f"{op} without {scope}, {form}"
    ctx.expect_answer("AUTH-SCOPE-REFUSED", answer, [401, 403], what=what)
    ctx.expect_answer("AUTH-SCOPE-403", answer, [403], "FORBIDDEN", what=what)
    return answer
