"""Contract section 3: ids are opaque and matched exactly; odd ids never crash the server."""

from __future__ import annotations

import random
from urllib.parse import quote

from .. import calls
from ..checks import Context, check
from ._common import expect_unchanged


def variants(call_id: str) -> list[str]:
    """Raw (already encoded) path segments that look like `call_id` but are not it."""
    enc = quote(call_id, safe="")
    return [
        enc[:-1],  # prefix
        enc + "0",  # suffix
        quote(call_id.swapcase(), safe="") if call_id.swapcase() != call_id else enc + "X",
        "%20" + enc,
        enc + "%20",
        "%09" + enc,
        enc + "%00",
        enc.replace("-", "%252D", 1) if "-" in enc else enc + "%2525",  # double encoding
        enc + "%2F..",
        "..%2F" + enc,
        "%2E%2E%2F" + enc,
        enc + "%2F",
        quote(call_id.replace("-", "\u2010", 1) if "-" in call_id else call_id + "\u00e9", safe=""),
        enc * 40,  # very long
        quote(call_id + "\u202e", safe=""),  # right-to-left override
        enc[: len(enc) // 2],
    ]


ODD_SEGMENTS = [
    "%2E%2E",
    "%2E",
    "%00",
    "%FF%FE",
    "%F0%9F%93%9E" * 50,
    "a" * 5000,
    "%25",
    "%3Cscript%3E",
    "%0D%0A",
]


@check("odd_ids", "ID-ODD-NO-5XX", "ID-ODD-404", "ID-EXACT-MATCH")
def odd_ids(ctx: Context) -> None:
    """Variants of a real id (prefix, suffix, case, whitespace, encodings, path tricks) reach no call."""
    a = ctx.env.a
    state = "completed" if ctx.env.can_seed_any_state else "queued"
    originals = {s: ctx.env.seed_call(a, s) for s in dict.fromkeys(("queued", state))}
    rng = random.Random(ctx.config.seed)
    for state_name, call_id in originals.items():
        before = calls.snapshot(ctx.client, call_id, a.auth())
        pool = variants(call_id) + ODD_SEGMENTS
        for segment in rng.sample(pool, min(ctx.config.budget.odd_ids, len(pool))):
            for op in ("get", "cancel", "delete"):
                answer = calls.rest(ctx.client, op, segment, a.auth(), raw=True)
                what = f"{op} of {segment[:60]!r} (a variant of a {state_name} call's id)"
                ctx.expect_answer("ID-ODD-NO-5XX", answer, range(200, 500), what=what)
                # A 2xx or a 409 means the variant resolved to a call.
                ctx.expect_answer("ID-EXACT-MATCH", answer, set(range(400, 500)) - {409}, what=what)
                ctx.expect_answer("ID-ODD-404", answer, [404], "NOT_FOUND", what=what)
        expect_unchanged(ctx, "ID-EXACT-MATCH", a, call_id, before)
