"""Contract section 5: delete "permanently removes all end-customer PII"."""

from __future__ import annotations

from conformance.layers.checks import check
from conformance.layers.context import Context
from conformance.target import calls


@check("erasure", "DEL-ERASURE")
def erasure(ctx: Context) -> None:
    """After deletion no response of any endpoint holds any of the call's PII; its sibling keeps its own."""
    ctx.env.need_state("completed")
    a = ctx.env.a
    victim_pii, sibling_pii = ctx.env.pii("v"), ctx.env.pii("s")
    victim = ctx.env.seed_call(a, "completed", victim_pii)
    sibling = ctx.env.seed_call(a, "completed", sibling_pii)
    shown = calls.get(ctx.client, victim, a.auth())
    visible = {v for v in ctx.env.pii_strings(victim) if v.encode() in shown.response_body}
    ctx.expect(
        "DEL-ERASURE",
        bool(visible),
        "GET of a completed call shows none of its PII: erasure cannot be observed",
        shown,
    )
    ctx.expect_answer("DEL-ERASURE", calls.rest(ctx.client, "delete", victim, a.auth()), [200], what="delete")
    # From here on `universal` watches every response of the run for the victim's PII.
    probes = [
        calls.get(ctx.client, victim, a.auth("x-api-key")),
        calls.rest(ctx.client, "cancel", victim, a.auth()),
        calls.rest(ctx.client, "delete", victim, a.auth()),
        calls.get(ctx.client, sibling, a.auth()),
        ctx.env.note_created(calls.create(ctx.client, a.auth())),
    ]
    if a.webhook_token:
        probes += [calls.hook(ctx.client, a.webhook_token, op, {"call_id": victim}) for op in ("cancel", "delete")]
    for probe in probes:
        leaked = sorted(v for v in ctx.env.pii_strings(victim) if v.encode() in probe.response_body)
        ctx.expect("DEL-ERASURE", not leaked, f"{probe.method} after delete still answers PII {leaked[:3]}", probe)
    sibling_seen = probes[3].response_body
    ctx.expect(
        "DEL-ERASURE",
        sibling_pii["contact_name"].encode() in sibling_seen,
        "deleting one call erased another call's PII",
        probes[3],
    )
