"""Contract section 3: ids are opaque and matched exactly; odd ids never crash the server."""

from __future__ import annotations

import random
from collections.abc import Sequence
from urllib.parse import quote

from conformance.contract.model import NOT_RESOLVED, REACHED_CODE, Op
from conformance.layers.checks import Context, check
from conformance.layers.properties._common import Sample, expect_unchanged, lasting_state
from conformance.target import calls
from conformance.target.safety import segment_id


def variants(call_id: str) -> list[str]:
    """Raw (already encoded) path segments that look like `call_id` but are not it."""
    return [segment for _, segment in labelled_variants(call_id)]


def labelled_variants(call_id: str) -> list[tuple[str, str]]:
    """`variants`, each with its kind."""
    enc = quote(call_id, safe="")
    return [
        ("truncated", enc[:-1]),  # prefix
        ("extended", enc + "0"),  # suffix
        ("case", quote(call_id.swapcase(), safe="") if call_id.swapcase() != call_id else enc + "X"),
        ("whitespace", "%20" + enc),
        ("whitespace", enc + "%20"),
        ("whitespace", "%09" + enc),
        ("control", enc + "%00"),
        ("encoding", enc.replace("-", "%252D", 1) if "-" in enc else enc + "%2525"),  # double encoding
        ("path", enc + "%2F.."),
        ("path", "..%2F" + enc),
        ("path", "%2E%2E%2F" + enc),
        ("path", enc + "%2F"),
        ("unicode", quote(call_id.replace("-", "\u2010", 1) if "-" in call_id else call_id + "\u00e9", safe="")),
        ("long", enc * 40),  # very long
        ("unicode", quote(call_id + "\u202e", safe="")),  # right-to-left override
        ("truncated", enc[: len(enc) // 2]),
    ]


LABELLED_ODD_SEGMENTS = [
    ("path", "%2E%2E"),
    ("path", "%2E"),
    ("control", "%00"),
    ("encoding", "%FF%FE"),
    ("unicode", "%F0%9F%93%9E" * 50),
    ("long", "a" * 5000),
    ("encoding", "%25"),
    ("encoding", "%3Cscript%3E"),
    ("control", "%0D%0A"),
]
ODD_SEGMENTS = [segment for _, segment in LABELLED_ODD_SEGMENTS]


@check("odd_ids", "ID-ODD-NO-5XX", "ID-ODD-404", "ID-EXACT-MATCH")
def odd_ids(ctx: Context) -> None:
    """Variants of a real id (prefix, suffix, case, whitespace, encodings, path tricks) reach no call."""
    a, sample = ctx.env.a, Sample(ctx, "odd_ids")
    state = lasting_state(ctx)
    # Sampled, only the call on which every operation acts when it finds it: a completed one.
    originals = {s: ctx.env.seed_call(a, s) for s in dict.fromkeys(("queued", state) if sample.every else (state,))}
    rng = random.Random(ctx.config.seed)
    for state_name, call_id in originals.items():
        before = calls.snapshot(ctx.client, call_id, a.auth())
        crafted = [] if ctx.env.guard.isolated else [quote(ctx.env.random_extension(call_id), safe="")]
        for segment, ops in _odd_requests(sample, rng, call_id, ctx.config.budget.odd_ids, crafted):
            if segment_id(segment) in ctx.env.ledger.entries:
                continue  # exactly another call of the suite's (ids that count up): no near miss
            for op in _safe_ops(ctx, segment, ops):
                answer = calls.rest(ctx.client, op, segment, a.auth(), raw=True)
                if calls.names_exactly(answer, segment_id(segment)):
                    continue  # exactly a call the suite does not know, rightly answered (a shared target)
                what = f"{op} of {segment[:60]!r} (a variant of a {state_name} call's id)"
                ctx.expect_answer("ID-ODD-NO-5XX", answer, range(200, 500), what=what)
                ctx.expect(  # a 2xx, a 409 or CALL_NOT_CANCELLABLE: the variant reached a call
                    "ID-EXACT-MATCH",
                    answer.status in NOT_RESOLVED and answer.error_code != REACHED_CODE,
                    f"{what}: {answer.method} expected a 4xx that reaches no call (not 409, not {REACHED_CODE}),"
                    f" got {answer.outcome()}",
                    answer,
                )
                ctx.expect_answer("ID-ODD-404", answer, [404], "NOT_FOUND", what=what)
        expect_unchanged(ctx, "ID-EXACT-MATCH", a, call_id, before)


def _odd_requests(
    sample: Sample, rng: random.Random, call_id: str, count: int, crafted: Sequence[str] = ()
) -> list[tuple[str, list[Op]]]:
    """`count` segments drawn from the pool, each with every operation; sampled, one segment of
    each kind, each with one operation. `crafted` (own ids made unguessable, on a shared target)
    are always sent, with every operation."""
    ops: tuple[Op, ...] = ("get", "cancel", "delete")
    always = [(segment, list(ops)) for segment in crafted]
    if sample.every:
        pool = variants(call_id) + ODD_SEGMENTS
        return [(segment, list(ops)) for segment in rng.sample(pool, min(count, len(pool)))] + always
    kinds: dict[str, list[str]] = {}
    for kind, segment in labelled_variants(call_id) + LABELLED_ODD_SEGMENTS:
        kinds.setdefault(kind, []).append(segment)
    return [(segment, sample.one(ops)) for segment in sample.each(kinds.values())] + always


def _safe_ops(ctx: Context, segment: str, ops: list[Op]) -> list[Op]:
    """`ops`, with a cancel or delete that might name someone else's call (a truncation, an
    extension within the target's id alphabet, on a shared target) sent as a read instead."""
    safe = ctx.env.guard.may_destroy(segment_id(segment))
    return list(dict.fromkeys(op if safe or op == "get" else "get" for op in ops))
