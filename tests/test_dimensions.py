"""The dimensions each requirement was judged along (`conformance.layers.dimensions`), axis by axis:
what an exchange's request tells (credential form, transport, method), what the environment knows
when it is observed (the call's state, the data it was seeded with, whether the same cancel or
delete had already succeeded), what the code that sends it tags (timing, concurrency); and that a
requirement lists only the values of the exchanges it was judged on, a merge their union."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import OFFLINE, offline_context

from conformance.http.client import Exchange
from conformance.layers import seed_data
from conformance.layers.context import Context
from conformance.layers.results import Dimensions, Results
from conformance.run.merge import join
from conformance.run.report import build

KEY, KEY_B, TOKEN = "sk_test_dims0123456789abcdef", "sk_test_dimsB0123456789abcdef", "whk_dims0123456789abcdef"
BASE = OFFLINE  # nothing here sends a request


@pytest.fixture
def ctx() -> Iterator[Context]:
    """A context on environment credentials (building it sends no request), B's key and A's token added."""
    made = offline_context(KEY)
    made.env.b.key, made.env.a.webhook_token = KEY_B, TOKEN
    made.env.ledger.add("c1", "A", None, "completed")
    made.env.ledger.add("q1", "A", None, "queued")
    yield made
    made.client.close()


def sent(
    method: str, path: str, headers: dict[str, str] | None = None, body: Any = None, status: int = 200
) -> Exchange:
    content = json.dumps(body).encode() if body is not None else None
    return Exchange(method, BASE + path, headers or {}, content, status, {"content-type": "application/json"}, b"{}")


def seen(ctx: Context, exchange: Exchange) -> dict[str, set[str]]:
    """The values of `exchange` as the client's first observer notes them, by axis."""
    ctx.coverage.observe(exchange)
    found: dict[str, set[str]] = {}
    for axis, value in ctx.coverage.values(exchange):
        found.setdefault(axis, set()).add(value)
    return found


def hook(ctx: Context, action: str, call_id: str | None = None, token: str = TOKEN) -> Exchange:
    data = {"call_id": call_id} if call_id else {"agent_id": "a", "contact_number": "+919800000000"}
    return sent("POST", f"/v1/hooks/{token}", body={"action": f"call.{action}", "data": data})


@pytest.mark.parametrize(
    ("headers", "forms"),
    [
        ({"Authorization": f"Bearer {KEY}"}, {"Authorization: Bearer"}),
        ({"X-Api-Key": KEY}, {"x-api-key"}),  # any case of the header's name
        ({"Authorization": f"Bearer {KEY}", "x-api-key": KEY_B}, {"both headers"}),
        ({}, {"none"}),
        ({"Authorization": f"Basic {KEY}"}, {"Authorization: other scheme", "adversarial variant"}),
        ({"Authorization": "Token abc"}, {"Authorization: other scheme"}),
        ({"x-api-key": "sk_test_unknown0000000000000000"}, {"x-api-key"}),  # unknown: no variant of a real one
        ({"x-api-key": KEY.swapcase()}, {"x-api-key", "adversarial variant"}),
        ({"Authorization": f"Bearer {KEY[:-1]}"}, {"Authorization: Bearer", "adversarial variant"}),
        ({"Authorization": f"Bearer {KEY}0123"}, {"Authorization: Bearer", "adversarial variant"}),
        ({"x-api-key": TOKEN}, {"x-api-key", "adversarial variant"}),  # the webhook token as a key
    ],
)
def test_the_credential_form_is_read_from_the_headers(ctx: Context, headers: dict[str, str], forms: set[str]) -> None:
    found = seen(ctx, sent("GET", "/v1/calls/c1", headers))
    assert found["credential"] == forms
    assert found["transport"] == {"REST"}


@pytest.mark.parametrize(
    ("token", "forms"),
    [
        (TOKEN, {"webhook token"}),
        (TOKEN.upper(), {"webhook token", "adversarial variant"}),
        (KEY, {"webhook token", "adversarial variant"}),  # an API key as the webhook token
        ("whk_unknown", {"webhook token"}),
    ],
)
def test_the_webhook_carries_its_token(ctx: Context, token: str, forms: set[str]) -> None:
    found = seen(ctx, hook(ctx, "delete", "c1", token))
    assert found["transport"] == {"webhook"}
    assert found["method"] == {"POST"}
    assert found["credential"] == forms


@pytest.mark.parametrize("method", ["GET", "DELETE", "HEAD", "OPTIONS", "PATCH"])
def test_the_method_is_the_one_sent(ctx: Context, method: str) -> None:
    assert seen(ctx, sent(method, "/v1/calls/c1", {"x-api-key": KEY}))["method"] == {method}


def test_the_fixtures_api_has_no_dimension(ctx: Context) -> None:
    exchange = sent("POST", "/_fixtures/calls", {"x-fixtures-token": "t"}, {"state": "queued"}, 201)
    assert seen(ctx, exchange) == {}
    ctx.expect("ID-NEVER-REUSED", True, "", exchange)
    assert ctx.results.dimensions("ID-NEVER-REUSED") == Dimensions()


def test_the_call_state_is_the_one_it_had_when_the_request_went(ctx: Context) -> None:
    a, b = {"x-api-key": KEY}, {"x-api-key": KEY_B}
    assert seen(ctx, sent("GET", "/v1/calls/q1", a))["call_state"] == {"queued"}
    assert seen(ctx, sent("GET", "/v1/calls/c1", b))["call_state"] == {"other organisation's"}
    assert seen(ctx, sent("GET", "/v1/calls/c1", {}))["call_state"] == {"completed"}  # no sender: the call's own
    assert seen(ctx, sent("GET", "/v1/calls/nobody", a))["call_state"] == {"never existed"}
    assert seen(ctx, sent("GET", "/v1/calls/c%31", a))["call_state"] == {"completed"}  # the decoded id
    assert seen(ctx, sent("POST", "/v1/calls", a, {"agent_id": "x"}, 201))["call_state"] == {"none (a create)"}
    assert seen(ctx, hook(ctx, "create"))["call_state"] == {"none (a create)"}
    delete = sent("DELETE", "/v1/calls/c1", a)
    assert seen(ctx, delete)["call_state"] == {"completed"}  # observed before the ledger learns it is gone
    ctx.env.ledger.observe(delete)
    assert seen(ctx, sent("GET", "/v1/calls/c1", a))["call_state"] == {"deleted"}
    assert seen(ctx, hook(ctx, "cancel", "c1"))["call_state"] == {"deleted"}


def test_the_data_is_the_kinds_the_call_was_seeded_with(ctx: Context) -> None:
    base = ctx.env.pii()
    for call_id, shape in (("sparse", "sparse"), ("rich", "rich")):
        ctx.env.ledger.add(call_id, "A", None, "completed")
        ctx.env.pii_of[call_id] = seed_data.shaped_pii(base, seed_data.extreme(shape))
    ctx.env.pii_of["c1"] = base
    data = {c: seen(ctx, sent("GET", f"/v1/calls/{c}", {"x-api-key": KEY}))["data"] for c in ("sparse", "rich", "c1")}
    assert data["sparse"] == {
        "null recording_url",
        "null contact fields",
        "empty transcript",
        "empty additional_info",
        "zero duration",
    }
    assert data["rich"] == {
        "long transcript",
        "nested additional_info",
        "long strings",
        "non-BMP characters (emoji)",
        "large duration",
    }
    assert data["c1"] == {"typical"}
    assert "data" not in seen(ctx, sent("GET", "/v1/calls/q1", {"x-api-key": KEY}))  # not seeded with data


def test_timing_and_concurrency_are_tagged_by_the_code_that_knows(ctx: Context) -> None:
    request = sent("GET", "/v1/calls/c1", {"x-api-key": KEY})
    assert seen(ctx, request)["timing"] == {"at once"}
    assert seen(ctx, request)["concurrency"] == {"sequential"}
    with ctx.coverage.tagged(timing="after the pause"):
        with ctx.coverage.tagged(concurrency="concurrent"):
            inner = seen(ctx, request)
            elsewhere: list[dict[str, set[str]]] = []
            thread = threading.Thread(target=lambda: elsewhere.append(seen(ctx, request)))
            thread.start()
            thread.join()
        outer = seen(ctx, request)
    assert (inner["timing"], inner["concurrency"]) == ({"after the pause"}, {"concurrent"})
    assert (outer["timing"], outer["concurrency"]) == ({"after the pause"}, {"sequential"})
    assert (elsewhere[0]["timing"], elsewhere[0]["concurrency"]) == ({"at once"}, {"sequential"})  # its own thread
    assert seen(ctx, request)["timing"] == {"at once"}


def test_a_repeat_is_an_operation_that_had_already_succeeded_on_the_call(ctx: Context) -> None:
    a = {"x-api-key": KEY}
    assert seen(ctx, sent("DELETE", "/v1/calls/c1", a, status=401))["repetition"] == {"first"}  # refused: no first yet
    assert seen(ctx, sent("DELETE", "/v1/calls/c1", a))["repetition"] == {"first"}
    assert seen(ctx, hook(ctx, "delete", "c1"))["repetition"] == {"repeat"}  # across transports
    assert seen(ctx, sent("POST", "/v1/calls/c1/cancel", a))["repetition"] == {"first"}  # another operation
    assert "repetition" not in seen(ctx, sent("GET", "/v1/calls/c1", a))  # reads are not repeated operations


def test_a_requirement_lists_only_what_it_was_judged_on(ctx: Context) -> None:
    get = sent("GET", "/v1/calls/c1", {"x-api-key": KEY})
    delete = hook(ctx, "delete", "q1")
    ctx.client.observers.insert(0, ctx.coverage.observe)
    for exchange in (get, delete):
        ctx.client._notify(exchange, 0.0, 0.0)
    ctx.expect("GET-CALL", True, "", get)
    ctx.expect("HOOK-EQUIVALENCE", True, "", get, delete)
    got, both = ctx.results.dimensions("GET-CALL"), ctx.results.dimensions("HOOK-EQUIVALENCE")
    assert (got.method, got.transport, got.call_state) == (("GET",), ("REST",), ("completed",))
    assert (both.method, both.transport) == (("GET", "POST"), ("REST", "webhook"))
    assert both.credential == ("webhook token", "x-api-key")
    assert both.repetition == ("first",)
    assert ctx.results.dimensions("DEL-GONE") == Dimensions()  # never judged


def test_the_report_carries_them_and_a_merge_joins_them(ctx: Context) -> None:
    get, head = sent("GET", "/v1/calls/c1", {"x-api-key": KEY}), sent("HEAD", "/v1/calls/q1", {"x-api-key": KEY})
    seen(ctx, get)
    ctx.expect("GET-CALL", True, "", get)
    one = build(_session(ctx))
    other_ctx = Context(ctx.client, ctx.env, Results(), ctx.config)
    seen(other_ctx, head)
    other_ctx.expect("GET-CALL", True, "", head)
    other = build(_session(other_ctx))
    joined = {r.id: r for r in join([one, other], strict=False, errors=[]).requirements}["GET-CALL"]
    assert joined.dimensions.method == ("GET", "HEAD")
    assert joined.dimensions.call_state == ("completed", "queued")
    assert joined.dimensions.credential == ("x-api-key",)
    data = {r["id"]: r for r in one.to_json()["requirements"]}["GET-CALL"]["dimensions"]
    assert (data["method"], data["repetition"]) == (["GET"], [])


def _session(ctx: Context) -> Any:
    from conformance.run.session import SuiteSession

    return SuiteSession(ctx.config, BASE, ctx)
