"""Contract section 5: delete "permanently removes all end-customer PII", at once and over time.

The calls deleted here carry the whole range of data the contract allows (`seed_data.varied_pii`):
empty and null fields, long and non-BMP strings, nested `additional_info`, zero and large durations.
Besides the search of every later response for their PII (`universal`), each is looked for by its
mark (`Victim.mark`, ASCII in every string of its PII), which survives any re-encoding of the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from conformance.contract.model import COMPLETED_FIELDS, body_ok, forward_moves, pii_of
from conformance.http.client import Exchange
from conformance.layers import seed_data
from conformance.layers.checks import check
from conformance.layers.context import Context
from conformance.layers.properties._common import Sample
from conformance.target import calls
from conformance.target.environment import Tenant
from conformance.target.erasure import found

__all__ = ["Victim", "data_shapes", "delete_victim", "read_again", "varied_victims"]

CONTACT = ("contact_number", "contact_name", "contact_email")
MARK = re.compile(r"zq\.([0-9a-f]{12}\S*)@")  # `Environment.pii`: the mark in its email
DRAWN = 3  # varied calls drawn beside the two extremes, at breadth "every"


@dataclass
class Victim:
    """A completed call of organisation A that a check deletes, with the PII it was seeded with."""

    call_id: str
    pii: dict[str, Any]
    mark: str  # in every PII string of the call (never in its number): no later response may hold it

    def traces(self, exchange: Exchange) -> bool:
        return bool(self.mark) and bool(found([self.mark], exchange.response_body))


def data_shapes(ctx: Context, name: str) -> list[dict[str, str]]:
    """The forms of seeded data a check tries (`seed_data.data_shapes`): the two extremes (every null,
    empty and zero value at once; every long, non-BMP, nested and large one), then, at breadth
    "every", `DRAWN` more drawn by the seed."""
    shapes = [seed_data.extreme("sparse"), seed_data.extreme("rich")]
    if Sample(ctx, name).every:
        drawn = seed_data.examples(seed_data.data_shapes(), 2 * DRAWN, ctx.config.seed)
        shapes += [shape for shape in drawn if shape not in shapes][:DRAWN]
    return shapes


def varied_victims(ctx: Context, tag: str) -> list[Victim]:
    """Completed calls of A, one for each of `data_shapes` (sparse first, then rich), each with PII
    and a mark of its own."""
    victims = []
    for n, shape in enumerate(data_shapes(ctx, f"varied:{tag}")):
        base = ctx.env.pii(f"{tag}{n}")
        pii = seed_data.shaped_pii(base, shape)
        if not ctx.env.can_seed_any_state:  # through POST /v1/calls: no null fields
            pii = {k: v for k, v in pii.items() if v is not None}
        found = MARK.search(base["contact_email"])
        victims.append(Victim(ctx.env.seed_call(ctx.env.a, "completed", pii), pii, found.group(1) if found else ""))
    return victims


def delete_victim(ctx: Context, victim: Victim, transport: str, *, reads: bool) -> Exchange:
    """Delete the call over `transport`; when `reads`, read it first (a cache may keep it) and at once
    after: 404."""
    a = ctx.env.a
    if reads:
        calls.get(ctx.client, victim.call_id, a.auth())
    token = a.webhook_token or ""
    deleted = calls.call_op(ctx.client, transport, "delete", victim.call_id, headers=a.auth(), token=token)
    what = f"delete over {transport} of a call seeded with {_summary(victim.pii)}"
    ctx.expect_answer("DEL-COMPLETED-200", deleted, [200], what=what)
    ctx.expect(
        "DEL-COMPLETED-200",
        body_ok("deleted", deleted.json(), victim.call_id),
        f"{what}: body {deleted.response_body[:200]!r}, expected {{'data': {{'call_id', 'deleted': true}}}}",
        deleted,
    )
    if reads:
        again = calls.get(ctx.client, victim.call_id, a.auth())
        ctx.expect_answer("DEL-GONE", again, [404], "NOT_FOUND", what=f"GET right after the {what}")
    return deleted


def read_again(ctx: Context, victims: list[Victim], when: str, *, every: bool) -> None:
    """The deleted calls, `when`: 404 to GET (both key headers) and to a webhook cancel, and no trace of
    them. Unless `every`, each call one of the two, in turn."""
    a = ctx.env.a
    with ctx.deferred():  # every call is read, and a call come back is judged both gone and erased
        for n, victim in enumerate(victims):
            probes = []
            if every or n % 2 or not a.webhook_token:  # sampled: GET the rich call, whose data has the mark
                probes.append(calls.get(ctx.client, victim.call_id, a.auth("bearer" if n % 2 else "x-api-key")))
            if a.webhook_token and (every or n % 2 == 0):
                probes.append(calls.hook(ctx.client, a.webhook_token, "cancel", {"call_id": victim.call_id}))
            for probe in probes:
                ctx.expect_answer("DEL-GONE", probe, [404], "NOT_FOUND", what=f"{probe.method} {when}")
                title = f"{probe.method} {when} answers the deleted call's PII"
                ctx.expect("DEL-ERASURE", not victim.traces(probe), title, probe)


def _summary(pii: dict[str, Any]) -> str:
    def size(value: Any) -> str:
        return "null" if value is None else f"{len(value)} long" if isinstance(value, str | list | dict) else str(value)

    return ", ".join(
        f"{k} {size(pii.get(k))}"
        for k in ("contact_name", "additional_info", "transcript", "recording_url", "duration_seconds")
    )


@check("erasure", "DEL-ERASURE")
def erasure(ctx: Context) -> None:
    """After deletion no response of any endpoint holds any of the call's PII; its sibling keeps its own."""
    ctx.env.need_state("completed")
    a = ctx.env.a
    victim_pii, sibling_pii = ctx.env.pii("v"), ctx.env.pii("s")
    victim = ctx.env.seed_call(a, "completed", victim_pii)
    sibling = ctx.env.seed_call(a, "completed", sibling_pii)
    shown = calls.get(ctx.client, victim, a.auth())
    erasure = ctx.env.erasure
    visible = found(erasure.strings(victim), shown.response_body)
    ctx.expect(
        "DEL-ERASURE",
        bool(visible),
        "GET of a completed call shows none of its PII: erasure cannot be observed",
        shown,
    )
    ctx.expect_answer("DEL-ERASURE", calls.rest(ctx.client, "delete", victim, a.auth()), [200], what="delete")
    # From here on `universal` watches every response of the run for the victim's PII.
    probes = [calls.get(ctx.client, victim, a.auth("x-api-key")), calls.get(ctx.client, sibling, a.auth())]
    every = Sample(ctx, "erasure").every  # sampled: `over_time` cancels, deletes again, creates, uses the webhook
    if every:
        probes += [
            calls.rest(ctx.client, "cancel", victim, a.auth()),
            calls.rest(ctx.client, "delete", victim, a.auth()),
            ctx.env.note_created(calls.create(ctx.client, a.auth())),
        ]
    if a.webhook_token and every:
        probes += [calls.hook(ctx.client, a.webhook_token, op, {"call_id": victim}) for op in ("cancel", "delete")]
    for probe in probes:
        leaked = erasure.leaks(probe, [victim]).get(victim, [])
        ctx.expect("DEL-ERASURE", not leaked, f"{probe.method} after delete still answers PII {leaked[:3]}", probe)
    sibling_seen = probes[1].response_body
    ctx.expect(
        "DEL-ERASURE",
        bool(found([sibling_pii["contact_name"]], sibling_seen)),
        "deleting one call erased another call's PII",
        probes[1],
    )


@dataclass
class Sharers:
    """Live calls of both organisations that share a victim's contact details, as GET showed them."""

    found: list[tuple[Tenant, str, Any]]


def seed_sharers(ctx: Context, shared: dict[str, Any], *, every: bool) -> Sharers:
    """A cancelled call of A and a queued call of B (when B has a key) with `shared` contact details:
    none of them is ever deleted, the clean-up's deletes included (its PII would be searched for).
    Unless `every`, only B's (A's when B has no key)."""
    found = []
    tenants: tuple[tuple[Tenant, str], ...] = ((ctx.env.a, "cancelled"), (ctx.env.b, "queued"))
    if not every:
        tenants = tenants[1:] if ctx.env.b.key else tenants[:1]
    for tenant, state in tenants:
        if tenant.key is None or not ctx.env.can_seed(state):
            continue
        pii = ctx.env.pii(f"-share{tenant.name}") | {k: shared.get(k) for k in CONTACT}
        pii = {k: v for k, v in pii.items() if v is not None or ctx.env.can_seed_any_state}
        call_id = ctx.env.seed_call(tenant, state, pii)
        seeded = calls.answered_call(ctx.env.setup[call_id]) if state == "queued" else None
        found.append((tenant, call_id, seeded or calls.snapshot(ctx.client, call_id, tenant.auth())))
    return Sharers(found)


def _kept(ctx: Context, before: Any, after: Any) -> bool:
    """The same PII and status (or, made through the public API, a status telephony moved on, and
    with it the recording and transcript that completing gives a call)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return False
    held = {k: v for k, v in pii_of(before).items() if v is not None or k not in COMPLETED_FIELDS}
    if held != {k: pii_of(after)[k] for k in held}:
        return False
    moved = not ctx.env.can_seed_any_state and after.get("status") in forward_moves(before.get("status"))
    return after.get("status") == before.get("status") or moved


def expect_sharers_kept(ctx: Context, sharers: Sharers, when: str) -> None:
    """Each sharer with its PII and status (A: DEL-ERASURE, "changes nothing but the deleted call";
    B: TENANT-UNTOUCHED)."""
    with ctx.deferred():
        for tenant, call_id, before in sharers.found:
            answer = calls.get(ctx.client, call_id, tenant.auth())
            after = calls.answered_call(answer)
            requirement = "DEL-ERASURE" if tenant is ctx.env.a else "TENANT-UNTOUCHED"
            ctx.expect(
                requirement,
                _kept(ctx, before, after),
                f"{when}, a call of {tenant.name} that shares its contact details changed:"
                f" before {str(before)[:200]}, after {str(after)[:200]}",
                answer,
            )


def expect_no_autofill(ctx: Context, victim: Victim, keep: int) -> list[str]:
    """A new call for the deleted call's number, with no name, email or info: nothing of the deleted
    call comes back; then `keep` more creates: none answers a deleted id. The ids it made."""
    a, number = ctx.env.a, victim.pii["contact_number"]
    body = {"agent_id": ctx.env.agent_id, "contact_number": number}
    made: list[str] = []
    for n in range(1 + keep):
        created = ctx.env.note_created(calls.create(ctx.client, a.auth(), body))
        call_id = calls.created_id(created)
        if call_id is not None:
            ctx.env.pii_of[call_id] = {"contact_number": number}  # a live call of that number, rightly shown
            made.append(call_id)
        if n == 0:  # sampled (`keep` 0): the create's answer only
            probes = [created] + [calls.get(ctx.client, cid, a.auth()) for cid in made if keep]
            for probe in probes:
                # The deleted call named: the reproduction shows its seeding and its delete too.
                title = (
                    f"{probe.method} of a new call for its number answers the PII of the deleted call {victim.call_id}"
                )
                ctx.expect("DEL-ERASURE", not victim.traces(probe), title, probe)
    return made
