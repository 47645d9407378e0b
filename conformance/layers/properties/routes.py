"""Contract section 1: unknown routes and wrong methods."""

from __future__ import annotations

from urllib.parse import quote

from conformance.config import Breadth
from conformance.errors import NotExercised
from conformance.layers.checks import check
from conformance.layers.context import Context
from conformance.layers.properties._common import Sample, expect_unchanged
from conformance.target import calls

UNKNOWN_ROUTES = ("/v1/nope", "/v1/calls/x/y/z", "/v2/calls")
WRONG_METHODS = (("PUT", "{call}"), ("PATCH", "{call}"), ("GET", "{call}/cancel"), ("DELETE", "/v1/calls"))


def requests_needed(breadth: Breadth) -> int:
    """What `routes_and_methods` sends at `breadth`: the suite's cheapest check (it makes no call)."""
    return 2 if breadth == "sample" else len(UNKNOWN_ROUTES) + len(WRONG_METHODS)


@check("routes_and_methods", "ENV-UNKNOWN-ROUTE-404", "ENV-WRONG-METHOD-405")
def routes_and_methods(ctx: Context) -> None:
    """An unknown route answers 404, a wrong method on a known route 405, in the error envelope."""
    headers = ctx.env.a.auth() if ctx.env.a.key else {}
    sample = Sample(ctx, "routes_and_methods")
    for path in sample.one(UNKNOWN_ROUTES):
        answer = ctx.client.request("GET", path, headers=headers)
        ctx.expect_answer("ENV-UNKNOWN-ROUTE-404", answer, [404], "NOT_FOUND", what=path)
    call_path = f"/v1/calls/{quote(ctx.env.never_existing_id())}"
    for method, path in sample.one(tuple((m, p.format(call=call_path)) for m, p in WRONG_METHODS)):
        answer = ctx.client.request(method, path, headers=headers)
        ctx.expect_answer("ENV-WRONG-METHOD-405", answer, [405], what=f"{method} {path}")


# Methods the contract gives no call route, which a server may still answer (HEAD from GET, OPTIONS
# for CORS): each must judge the credential before the call, and find only the caller's calls.
OTHER_METHODS = ("HEAD", "OPTIONS", "PUT", "PATCH")
CALL_ROUTES = ("{call}", "{call}/cancel")


@check("every_method", "AUTH-BEFORE-EXISTENCE", "TENANT-404", "TENANT-UNTOUCHED")
def every_method(ctx: Context) -> None:
    """HEAD, OPTIONS, PUT and PATCH on every call route: under a failing credential (either key header)
    they answer alike for a call and for none, and with a valid key another organisation's call answers
    as one that never existed (contract 2, 1.1). Sampled: HEAD and OPTIONS on the call itself under a
    failing credential, and HEAD (which reads the call) with A's key."""
    a, b = ctx.env.a, ctx.env.b
    if b.key is None:
        raise NotExercised("no key of a second organisation (HUSKY_API_KEY_B or the fixtures API)")
    sample = Sample(ctx, "every_method")
    foreign = ctx.env.seed_call(b, "completed" if ctx.env.can_seed("completed") else "queued")
    never = ctx.env.never_existing_id()
    before = calls.snapshot(ctx.client, foreign, b.auth()) if sample.every else None
    methods = OTHER_METHODS if sample.every else OTHER_METHODS[:2]
    routes = CALL_ROUTES if sample.every else CALL_ROUTES[:1]
    unknown = f"sk_test_unknown{ctx.env.rng.getrandbits(64):016x}"
    failing = {
        "no key": {},
        "unknown key, Bearer": a.auth("bearer", unknown),
        "unknown key, x-api-key": a.auth("x-api-key", unknown),
    }
    valid = {"A's key, Bearer": a.auth("bearer"), "A's key, x-api-key": a.auth("x-api-key")}
    with ctx.deferred():
        for method in methods:
            for route in routes:
                for name in sample.one(list(failing)):
                    _alike(ctx, "AUTH-BEFORE-EXISTENCE", method, route, (name, failing[name]), (foreign, never))
                for name in sample.one(list(valid)) if sample.every or method == "HEAD" else ():
                    _alike(ctx, "TENANT-404", method, route, (name, valid[name]), (foreign, never))
        if before is not None:
            expect_unchanged(ctx, "TENANT-UNTOUCHED", b, foreign, before)


def _alike(
    ctx: Context,
    requirement: str,
    method: str,
    route: str,
    credential: tuple[str, dict[str, str]],
    ids: tuple[str, str],
) -> None:
    """`method` on `route` for each of `ids` (B's call, one that never existed): the same status, code
    and message (a HEAD answer has no body: its status alone)."""
    name, headers = credential
    answers = [ctx.client.request(method, _route_path(route, call_id), headers=headers) for call_id in ids]
    keys = {(e.status, e.error_code, e.error_message) for e in answers}
    shown = ", ".join(e.outcome() for e in answers)
    where = f"{method} {route.format(call='/v1/calls/{id}')} with {name}"
    ctx.expect(requirement, len(keys) == 1, f"{where}: B's call and a never-existing one differ ({shown})", *answers)


def _route_path(route: str, call_id: str) -> str:
    return route.format(call=f"/v1/calls/{quote(call_id, safe='')}")
