"""Contract section 1: unknown routes and wrong methods."""

from __future__ import annotations

from urllib.parse import quote

from conformance.config import Breadth
from conformance.layers.checks import check
from conformance.layers.context import Context
from conformance.layers.properties._common import Sample

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
