"""Repeat delete and repeat cancel (contract section 5)."""

from __future__ import annotations

from conformance.contract.model import body_ok, listed_fields
from conformance.layers.checks import check
from conformance.layers.context import Context
from conformance.layers.properties._common import Sample
from conformance.target import calls


@check("repeat_delete", "DEL-COMPLETED-200", "DEL-REPEAT-404")
def repeat_delete(ctx: Context) -> None:
    """Deleting a completed call answers 200 once, then 404 NOT_FOUND every time after."""
    a = ctx.env.a
    call_id = ctx.env.seed_call(a, "completed")
    first = calls.rest(ctx.client, "delete", call_id, a.auth("x-api-key"))
    ctx.expect_answer("DEL-COMPLETED-200", first, [200], what="first delete")
    ctx.expect(
        "DEL-COMPLETED-200",
        body_ok("deleted", first.json(), call_id),
        f"first delete body {first.response_body[:200]!r}, expected {{'data': {{'call_id', 'deleted': true}}}}",
        first,
    )
    for n in range(2):
        again = calls.rest(ctx.client, "delete", call_id, a.auth("bearer" if n else "x-api-key"))
        ctx.expect_answer("DEL-REPEAT-404", again, [404], "NOT_FOUND", what=f"delete #{n + 2}")


@check("repeat_cancel", "CANCEL-REPEAT-200")
def repeat_cancel(ctx: Context) -> None:
    """Cancelling the same call again and again (REST and webhook) answers the same 200."""
    a = ctx.env.a
    call_id = ctx.env.seed_call(a, "queued")
    # Sampled: one repeat over REST (in the other header form) and one over the webhook.
    forms = ("bearer", "x-api-key", "bearer") if Sample(ctx, "repeat_cancel").every else ("bearer", "x-api-key")
    answers = [calls.rest(ctx.client, "cancel", call_id, a.auth(form)) for form in forms]
    if a.webhook_token:
        answers.append(calls.hook(ctx.client, a.webhook_token, "cancel", {"call_id": call_id}))
    for n, answer in enumerate(answers[1:], start=2):
        ctx.expect_answer("CANCEL-REPEAT-200", answer, [200], what=f"cancel #{n}")
        ctx.expect(
            "CANCEL-REPEAT-200",
            listed_fields(answer.json()) == listed_fields(answers[0].json()),  # extra fields may differ
            f"cancel #{n} answered {answer.response_body[:200]!r}, the first {answers[0].response_body[:200]!r}",
            answers[0],
            answer,
        )
