"""Contract section 1: unknown routes and wrong methods."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, unquote

from conformance.config import Breadth
from conformance.errors import NotExercised
from conformance.http.client import Exchange
from conformance.layers.checks import check
from conformance.layers.context import Context
from conformance.layers.properties._common import Sample, expect_unchanged, lasting_state, seeded
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


# Spellings of a call route a lenient router may take for the route itself (a trailing slash, doubled
# slashes, another case, a percent-encoded id, a path parameter). Whatever a server makes of them, a
# credential it would refuse on the route is refused on each: never a 2xx, and the call left as it was.
ROUTE_VARIANTS: dict[str, Callable[[str, str], str]] = {
    "trailing slash": lambda ident, tail: f"/v1/calls/{ident}{tail}/",
    "leading double slash": lambda ident, tail: f"//v1/calls/{ident}{tail}",
    "inner double slash": lambda ident, tail: f"/v1/calls//{ident}{tail}",
    "upper-case version": lambda ident, tail: f"/V1/calls/{ident}{tail}",
    "percent-encoded id": lambda ident, tail: f"/v1/calls/{_encode_every_byte(ident)}{tail}",
    "path parameter": lambda ident, tail: f"/v1/calls/{ident};v=1{tail}",
}
# Sampled: the spellings a router and the auth in front of it most often read differently.
SAMPLED_VARIANTS = ("trailing slash", "leading double slash", "upper-case version")
# Each operation on a call route, the state its call is seeded in (one it would change), and its tail.
VARIANT_OPERATIONS = (("GET", "completed", ""), ("DELETE", "completed", ""), ("POST", "queued", "/cancel"))


def _encode_every_byte(segment: str) -> str:
    """The id of a path segment (already encoded where it must be) with every byte percent-encoded."""
    return "".join(f"%{byte:02X}" for byte in unquote(segment).encode())


@check("route_variants", "AUTH-MISSING-401", "AUTH-UNKNOWN-401", "TENANT-404", "TENANT-UNTOUCHED")
def route_variants(ctx: Context) -> None:
    """Each operation on a call route, spelt as a lenient router may still take it: without a key, with
    an unknown key and with B's key, never a 2xx, and the call (A's) as it was. Sampled: a delete in
    each of `SAMPLED_VARIANTS` without a key, then the delete itself, which finds the call only if
    they were refused."""
    if ctx.config.budget.breadth == "sample":
        return _variant_delete(ctx)
    a, b = ctx.env.a, ctx.env.b
    unknown = f"sk_test_unknown{ctx.env.rng.getrandbits(64):016x}"
    credentials = {
        "AUTH-MISSING-401": ("no key", {}),
        "AUTH-UNKNOWN-401": ("an unknown key", a.auth("bearer", unknown)),
    }
    if b.key is not None:
        credentials["TENANT-404"] = ("B's key", b.auth("x-api-key"))
    with ctx.deferred():
        for method, state, tail in VARIANT_OPERATIONS:
            if not ctx.env.can_seed(state):
                continue
            call_id, before = seeded(ctx, a, state)
            for requirement, (name, headers) in credentials.items():
                answers = [
                    _variant(ctx, requirement, method, spelling, (call_id, tail), (name, headers))
                    for spelling in ROUTE_VARIANTS
                ]
                after = "TENANT-UNTOUCHED" if requirement == "TENANT-404" else requirement
                expect_unchanged(ctx, after, a, call_id, before, *answers)


def _variant(
    ctx: Context,
    requirement: str,
    method: str,
    spelling: str,
    call: tuple[str, str],
    credential: tuple[str, dict[str, str]],
) -> Exchange:
    """`method` on the call route spelt `spelling` with a credential the route refuses: never a 2xx."""
    (call_id, tail), (name, headers) = call, credential
    answer = ctx.client.request(method, ROUTE_VARIANTS[spelling](quote(call_id, safe=""), tail), headers=headers)
    refused = answer.status is None or not 200 <= answer.status < 300
    ctx.expect(requirement, refused, f"{method} {spelling} with {name}: got {answer.outcome()}", answer)
    return answer


def _variant_delete(ctx: Context) -> None:
    a, completed = ctx.env.a, lasting_state(ctx) == "completed"
    call_id, before = (ctx.env.seed_call(a, "completed"), None) if completed else seeded(ctx, a)
    tried = [_variant(ctx, "AUTH-MISSING-401", "DELETE", s, (call_id, ""), ("no key", {})) for s in SAMPLED_VARIANTS]
    if not completed:  # no call a delete acts on: the call is read back instead
        return expect_unchanged(ctx, "AUTH-MISSING-401", a, call_id, before, *tried)
    deleted = calls.rest(ctx.client, "delete", call_id, a.auth())
    if deleted.status != 200:  # gone already (a spelling deleted it), or a delete that fails anyway
        gone = calls.get(ctx.client, call_id, a.auth())
        what = f"DELETEs spelt {', '.join(SAMPLED_VARIANTS)} with no key were refused, yet the call is gone"
        ctx.expect("AUTH-MISSING-401", gone.status != 404, what, *tried, deleted, gone)
