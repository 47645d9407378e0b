"""Contract section 2: a caller sees only its own organisation's calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from conformance.contract.model import STATES, Op
from conformance.errors import NotExercised
from conformance.http.client import Exchange
from conformance.layers.checks import check
from conformance.layers.context import Context
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
    if sample.every:
        _expect_no_foreign_autofill(ctx)


def _expect_no_foreign_autofill(ctx: Context) -> None:
    """A's create for the number of B's live call, with no name or email: neither its answer nor GET
    shows B's name or email (a contact book shared across organisations)."""
    a, b, pii = ctx.env.a, ctx.env.b, ctx.env.pii("-foreign")
    ctx.env.seed_call(b, "queued", pii)
    number = pii["contact_number"]
    created = ctx.env.note_created(
        calls.create(ctx.client, a.auth(), {"agent_id": ctx.env.agent_id, "contact_number": number})
    )
    call_id = calls.created_id(created)
    if call_id is not None:
        ctx.env.pii_of[call_id] = {"contact_number": number}  # a live call of that number, rightly shown
    shown = [created] + ([calls.get(ctx.client, call_id, a.auth())] if call_id else [])
    for answer in shown:
        text = answer.response_body.decode("utf-8", "replace")
        leaked = [v for v in (pii["contact_name"], pii["contact_email"]) if v in text]
        title = f"{answer.method} of A's new call for the number of B's call shows B's {leaked}"
        ctx.expect("TENANT-404", not leaked, title, answer)


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


# Where a request could name another organisation (contract 2, 1.1): none of them may count.
QUERY_NAMES = ("org_id", "organization_id")
HEADER_NAMES = ("x-org-id", "x-organization-id")
BODY_PLACES = (("org_id",), ("organization_id",), ("data", "org_id"), ("data", "organization_id"))


@check("org_named_in_request", "TENANT-404", "TENANT-UNTOUCHED")
def org_named_in_request(ctx: Context) -> None:
    """A's requests that name B's organisation (a query parameter, a header, a webhook body field, top
    level or in `data`) act in A alone: B's call answers as one that never existed, and is left as it
    was. Each place alone on each operation; sampled, every place at once, on a delete over each transport."""
    a, b = ctx.env.a, ctx.env.b
    if b.key is None or b.org_id is None:
        raise NotExercised("no organisation id of a second organisation (only the fixtures API gives one)")
    sample = Sample(ctx, "org_named_in_request")
    completed = ctx.env.seed_call(b, "completed" if ctx.env.can_seed("completed") else "queued")
    queued = ctx.env.seed_call(b, "queued") if sample.every else completed
    on = {"get": completed, "cancel": queued, "delete": completed}
    befores = {call_id: calls.snapshot(ctx.client, call_id, b.auth()) for call_id in dict.fromkeys(on.values())}
    never = ctx.env.never_existing_id()
    with ctx.deferred():
        for transport, op, naming in _namings(sample, a.webhook_token is not None):
            answers = [_named(ctx, transport, op, call_id, naming) for call_id in (on[op], never)]
            keys = {(e.status, e.error_code, e.error_message) for e in answers}
            shown = " and ".join(e.outcome() for e in answers)
            title = (
                f"A's {op} over {transport} naming B's organisation ({naming.what}): B's call and none answer {shown}"
            )
            ctx.expect("TENANT-404", len(keys) == 1, title, *answers)
        if sample.every:
            _creates_named(ctx, b.org_id)
        for call_id, before in befores.items():
            expect_unchanged(ctx, "TENANT-UNTOUCHED", b, call_id, before)


@dataclass(frozen=True)
class Naming:
    """Where a request names an organisation: query parameters, headers, webhook body fields."""

    what: str
    query: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    body: tuple[tuple[str, ...], ...] = ()


def _namings(sample: Sample, hooks: bool) -> list[tuple[str, Op, Naming]]:
    rest = [Naming(f"?{q}=", query=(q,)) for q in QUERY_NAMES] + [Naming(h, headers=(h,)) for h in HEADER_NAMES]
    hook = [Naming(".".join(place), body=(place,)) for place in BODY_PLACES]
    every_rest = Naming("every query parameter and header", query=QUERY_NAMES, headers=HEADER_NAMES)
    every_hook = Naming("every body field", body=BODY_PLACES)
    if not sample.every:  # where a naming would show most: a delete of a completed call
        sampled: list[tuple[str, Op, Naming]] = [("rest", "delete", every_rest)]
        return sampled + ([("webhook", "delete", every_hook)] if hooks else [])
    found: list[tuple[str, Op, Naming]] = [
        ("rest", op, naming) for op in ("get", "cancel", "delete") for naming in [*rest, every_rest]
    ]
    if hooks:
        found += [("webhook", op, naming) for op in ("cancel", "delete") for naming in [*hook, every_hook]]
    return found


METHODS: dict[Op, str] = {"get": "GET", "cancel": "POST", "delete": "DELETE"}


def _named(ctx: Context, transport: str, op: Op, call_id: str, naming: Naming) -> Exchange:
    """A's `op` on `call_id` over `transport`, naming B's organisation where `naming` says."""
    a, org = ctx.env.a, ctx.env.b.org_id or ""
    if transport == "webhook":
        body = _with_org({"action": f"call.{op}", "data": {"call_id": call_id}}, naming, org)
        return ctx.client.request("POST", f"/v1/hooks/{quote(a.need_token(), safe='')}", json_body=body)
    path = calls.path_for(op, call_id) + _query(naming, org)
    return ctx.client.request(METHODS[op], path, headers=a.auth() | dict.fromkeys(naming.headers, org))


def _query(naming: Naming, org: str) -> str:
    return "?" + "&".join(f"{name}={quote(org, safe='')}" for name in naming.query) if naming.query else ""


def _with_org(body: dict[str, Any], naming: Naming, org: str) -> dict[str, Any]:
    for place in naming.body:
        (body if len(place) == 1 else body[place[0]])[place[-1]] = org
    return body


def _creates_named(ctx: Context, org: str) -> None:
    """Creates naming B's organisation everywhere, over each transport: no call of B's comes of them."""
    a, b = ctx.env.a, ctx.env.b
    rest = Naming("everywhere", query=QUERY_NAMES, headers=HEADER_NAMES, body=BODY_PLACES[:2])
    headers = a.auth() | dict.fromkeys(rest.headers, org)
    body = _with_org(dict(calls.CREATE_BODY), rest, org)
    answers = [
        ctx.env.note_created(
            ctx.client.request("POST", "/v1/calls" + _query(rest, org), headers=headers, json_body=body)
        )
    ]
    if a.webhook_token:
        hook_body = _with_org(
            {"action": "call.create", "data": dict(calls.CREATE_BODY)}, Naming("", body=BODY_PLACES), org
        )
        path = f"/v1/hooks/{quote(a.webhook_token, safe='')}"
        answers.append(ctx.env.note_created(ctx.client.request("POST", path, json_body=hook_body)))
    for answer in answers:
        created = calls.created_id(answer)
        if created is not None:
            seen = calls.get(ctx.client, created, b.auth())
            title = f"a create naming B's organisation made a call B reads ({seen.outcome()})"
            ctx.expect("TENANT-UNTOUCHED", seen.status != 200, title, answer, seen)
