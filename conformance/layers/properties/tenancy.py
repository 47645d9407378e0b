"""Contract section 2: a caller sees only its own organisation's calls."""

from __future__ import annotations

from conformance.contract.model import STATES, Op
from conformance.errors import NotExercised
from conformance.http.client import Exchange
from conformance.layers.checks import Context, check
from conformance.layers.properties._common import Sample, expect_unchanged
from conformance.target import calls

NOT_FOUND_REQUIREMENT: dict[Op, str] = {
    "get": "TENANT-404",
    "cancel": "CANCEL-NOT-FOUND-404",
    "delete": "DEL-NOT-FOUND-404",
}


@check("tenant_isolation", "TENANT-404", "TENANT-UNTOUCHED", "CANCEL-NOT-FOUND-404", "DEL-NOT-FOUND-404")
def tenant_isolation(ctx: Context) -> None:
    """Another organisation's call answers exactly as a call that never existed, and is left untouched."""
    a, b = ctx.env.a, ctx.env.b
    if b.key is None:
        raise NotExercised("no key of a second organisation (HUSKY_API_KEY_B or the fixtures API)")
    states = STATES if ctx.env.can_seed_any_state else ("queued", "cancelled")
    never = ctx.env.never_existing_id()
    transports = ("rest", "webhook") if a.webhook_token else ("rest",)
    sample = Sample(ctx, "tenant_isolation")
    # Sampled, the never-existing id is asked once per operation, not once per state as well.
    baselines: dict[tuple[str, str], Exchange] | None = None if sample.every else {}
    for state in _foreign_states(sample, states):
        foreign = ctx.env.seed_call(b, state)
        before = calls.snapshot(ctx.client, foreign, b.auth())
        with ctx.deferred():  # a leak must show as TENANT-UNTOUCHED too, not only TENANT-404
            _probe_foreign(ctx, foreign, never, state, transports, baselines, _revealing(sample, state))
            expect_unchanged(ctx, "TENANT-UNTOUCHED", b, foreign, before)


def _foreign_states(sample: Sample, states: tuple[str, ...]) -> list[str]:
    """Every state; sampled, those in which an operation changes a call it finds: queued (cancel)
    and completed (delete; and there GET and cancel show it too)."""
    return list(states) if sample.every else [s for s in states if s in ("queued", "completed")]


def _revealing(sample: Sample, state: str) -> tuple[Op, ...]:
    """The operations that would show it if they found B's call: all; sampled, on a call that is
    not completed, not delete (which answers such a call as if it did not exist)."""
    return ("get", "cancel") if not sample.every and state != "completed" else ("get", "cancel", "delete")


def _probe_foreign(
    ctx: Context,
    foreign: str,
    never: str,
    state: str,
    transports: tuple[str, ...],
    baselines: dict[tuple[str, str], Exchange] | None,
    revealing: tuple[Op, ...],
) -> None:
    """A's every operation (of `revealing`) on B's call must answer as for a call that never
    existed (`baselines`: the answers for it, where they are kept)."""
    a = ctx.env.a
    for transport in transports:
        ops: tuple[Op, ...] = ("get", "cancel", "delete") if transport == "rest" else ("cancel", "delete")
        for op in (op for op in ops if op in revealing):
            headers, token = a.auth(), a.webhook_token or ""
            answer = calls.call_op(ctx.client, transport, op, foreign, headers=headers, token=token)
            baseline = baselines.get((transport, op)) if baselines is not None else None
            if baseline is None:
                baseline = calls.call_op(ctx.client, transport, op, never, headers=headers, token=token)
                if baselines is not None:
                    baselines[(transport, op)] = baseline
            what = f"A's {op} over {transport} of B's {state} call"
            ctx.expect_answer(NOT_FOUND_REQUIREMENT[op], answer, [404], "NOT_FOUND", what=what)
            ctx.expect(
                "TENANT-404",
                (answer.status, answer.error_code, answer.error_message)
                == (baseline.status, baseline.error_code, baseline.error_message),
                f"{what}: {answer.outcome()} differs from a never-existing call's {baseline.outcome()}",
                answer,
                baseline,
            )


@check("unknown_ids", "CANCEL-NOT-FOUND-404", "DEL-NOT-FOUND-404", "TENANT-404")
def unknown_ids(ctx: Context) -> None:
    """Never-existing ids, in UUID and `call_...` form, and deleted ids answer 404 NOT_FOUND."""
    a = ctx.env.a
    ids = [ctx.env.never_existing_id(), ctx.env.never_existing_id("call")]  # fresh and random: no one's call
    sample = Sample(ctx, "unknown_ids")
    for call_id in sample.one(ids):
        for op, requirement in NOT_FOUND_REQUIREMENT.items():
            answer = calls.rest(ctx.client, op, call_id, a.auth())
            ctx.expect_answer(requirement, answer, [404], "NOT_FOUND", what=f"{op} of a never-existing id")
    if ctx.env.can_seed_any_state and sample.every:  # sampled: `delete_gone` cancels deleted calls
        deleted = ctx.env.seed_call(a, "completed")
        calls.rest(ctx.client, "delete", deleted, a.auth())
        answer = calls.rest(ctx.client, "cancel", deleted, a.auth())
        ctx.expect_answer("CANCEL-NOT-FOUND-404", answer, [404], "NOT_FOUND", what="cancel of a deleted call")
