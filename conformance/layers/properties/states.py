"""Contract section 5, state by state: the cancel-versus-delete table and what delete leaves."""

from __future__ import annotations

from conformance.contract.model import STATES, Op, body_ok
from conformance.errors import NotExercised
from conformance.layers.checks import check
from conformance.layers.context import Context
from conformance.layers.properties._common import STATE_KINDS, Sample, expect_unchanged, kinds_of, seeded
from conformance.target import calls

PII_FIELDS = ("contact_number", "contact_name", "contact_email", "additional_info", "created_at")


def _states(ctx: Context, name: str, wanted: tuple[str, ...]) -> list[str]:
    """`wanted` as this target can seed them: every one, or one of each kind (`STATE_KINDS`)."""
    seedable = tuple(s for s in wanted if ctx.env.can_seed(s))
    return Sample(ctx, name).each(kinds_of(STATE_KINDS, seedable))


@check(
    "cancel_table",
    "CANCEL-QUEUED-200",
    "CANCEL-KEEPS-RECORD",
    "CANCEL-REPEAT-200",
    "CANCEL-PAST-QUEUED-REFUSED",
    "CANCEL-PAST-QUEUED-409",
)
def cancel_table(ctx: Context) -> None:
    """Cancel in every state: queued and cancelled answer 200 and keep the record; others refuse."""
    a = ctx.env.a
    states = _states(ctx, "cancel_table", STATES)
    past = ("CANCEL-PAST-QUEUED-REFUSED", "CANCEL-PAST-QUEUED-409")
    if set(states) <= {"queued", "cancelled"}:
        ctx.results.skip(past, f"no call past queued: {ctx.env.seeder.why_not('completed')}")
    for n, state in enumerate(states):
        try:
            call_id = ctx.env.seed_call(a, state)
        except NotExercised as why:  # a completed call the api seeder waited for in vain: the rest goes on
            if state in ("queued", "cancelled"):
                raise
            ctx.results.skip(past, why.reason)
            continue
        before = calls.snapshot(ctx.client, call_id, a.auth())
        answer = calls.rest(ctx.client, "cancel", call_id, a.auth("bearer" if n % 2 else "x-api-key"))
        if state in ("queued", "cancelled"):
            requirement = "CANCEL-QUEUED-200" if state == "queued" else "CANCEL-REPEAT-200"
            ctx.expect_answer(requirement, answer, [200], what=f"cancel of a {state} call")
            ctx.expect(
                requirement,
                body_ok("cancelled", answer.json(), call_id),
                f"cancel body {answer.response_body[:200]!r}, expected success/call_id/status cancelled/message",
                answer,
            )
            after = calls.snapshot(ctx.client, call_id, a.auth()) or {}
            with ctx.deferred():  # a dropped record is CANCEL-KEEPS-RECORD whatever the status says
                status = after.get("status")
                ctx.expect(requirement, status == "cancelled", f"after cancel GET shows {status!r}", answer)
                kept = {k: after.get(k) for k in PII_FIELDS} == {k: (before or {}).get(k) for k in PII_FIELDS}
                ctx.expect("CANCEL-KEEPS-RECORD", kept, "cancel changed or dropped the call's record or PII", answer)
        else:
            ctx.expect_answer("CANCEL-PAST-QUEUED-REFUSED", answer, range(400, 500), what=f"cancel of a {state} call")
            ctx.expect_answer(
                "CANCEL-PAST-QUEUED-409",
                answer,
                [409],
                "CALL_NOT_CANCELLABLE",
                what=f"cancel of a {state} call",
            )
            expect_unchanged(ctx, "CANCEL-PAST-QUEUED-REFUSED", a, call_id, before, answer)


@check("delete_refused_states", "DEL-NOT-COMPLETED-404")
def delete_refused_states(ctx: Context) -> None:
    """Delete in every state but completed: 404 NOT_FOUND, and the call is exactly as it was."""
    a = ctx.env.a
    for n, state in enumerate(_states(ctx, "delete_refused_states", tuple(s for s in STATES if s != "completed"))):
        call_id, before = seeded(ctx, a, state)
        answer = calls.rest(ctx.client, "delete", call_id, a.auth("bearer" if n % 2 else "x-api-key"))
        ctx.expect_answer("DEL-NOT-COMPLETED-404", answer, [404], "NOT_FOUND", what=f"delete of a {state} call")
        expect_unchanged(ctx, "DEL-NOT-COMPLETED-404", a, call_id, before, answer)


@check("delete_gone", "DEL-COMPLETED-200", "DEL-GONE")
def delete_gone(ctx: Context) -> None:
    """After a delete, GET, cancel and delete answer 404 over REST and the webhook alike."""
    ctx.env.need_state("completed")
    a = ctx.env.a
    sample = Sample(ctx, "delete_gone")
    for transport in sample.one(("rest", "webhook") if a.webhook_token else ("rest",)):
        call_id = ctx.env.seed_call(a, "completed")
        token = a.webhook_token or ""
        deleted = calls.call_op(ctx.client, transport, "delete", call_id, headers=a.auth(), token=token)
        ctx.expect_answer("DEL-COMPLETED-200", deleted, [200], what=f"delete over {transport}")
        probes: list[tuple[str, Op]] = [("rest", "get"), ("rest", "cancel"), ("rest", "delete")]
        probes += [("webhook", "cancel"), ("webhook", "delete")] if a.webhook_token else []
        if not sample.every:  # sampled: `over_time` and `repeat_delete` try the others
            probes = [("webhook" if a.webhook_token else "rest", "delete")]
        for probe_transport, op in probes:
            answer = calls.call_op(ctx.client, probe_transport, op, call_id, headers=a.auth(), token=token)
            what = f"{op} over {probe_transport} after delete over {transport}"
            ctx.expect_answer("DEL-GONE", answer, [404], "NOT_FOUND", what=what)
