"""Concurrent requests on one call against the real server (contract sections 5 and 6).

Each burst is sent at once with httpx.AsyncClient and asyncio.gather, one connection per request,
and the final state is read back with GET afterwards.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conformance.mock import MockServer
from conformance.target.fixtures_client import FixturesClient

PII = ("contact_number", "contact_name", "contact_email", "additional_info", "transcript", "recording_url")
ROUNDS = 5
# Plain HTTP only; a context without certificates spares each AsyncClient loading them (~30 ms).
PLAIN_HTTP = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    headers: dict[str, str]
    json: Any = None


def burst(base_url: str, requests: list[Req]) -> list[httpx.Response]:
    """Send all `requests` at once; the answers come back in the same order."""

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
        client = httpx.AsyncClient(base_url=base_url, timeout=10, limits=limits, verify=PLAIN_HTTP)
        async with client as http:
            return list(
                await asyncio.gather(
                    *(http.request(r.method, r.path, headers=r.headers, json=r.json) for r in requests)
                )
            )

    return asyncio.run(run())


def rest_delete(tenant: Any, call_id: str) -> Req:
    return Req("DELETE", f"/v1/calls/{call_id}", tenant.bearer)


def rest_cancel(tenant: Any, call_id: str) -> Req:
    return Req("POST", f"/v1/calls/{call_id}/cancel", tenant.x_api_key)


def hook(tenant: Any, action: str, call_id: str) -> Req:
    return Req("POST", tenant.hook(), {}, {"action": action, "data": {"call_id": call_id}})


def error_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return str(response.json()["error"]["code"])


def read_back(live: httpx.Client, tenant: Any, call_id: str) -> httpx.Response:
    return live.get(f"/v1/calls/{call_id}", headers=tenant.bearer)


def seed(fixtures: FixturesClient, tenant: Any, status: str, tag: str) -> dict[str, Any]:
    """A call in `status` with distinctive PII, so that its loss or leak shows."""
    return fixtures.call(
        tenant.org,
        status,
        contact_number="+919812345678",
        contact_name=f"Concurrent Person {tag}",
        contact_email=f"person-{tag}@example.invalid",
        additional_info={"ref": tag},
        transcript=[{"speaker": "contact", "text": f"my reference is {tag}"}],
        recording_url=f"https://recordings.example.invalid/{tag}.mp3",
    )


def cancelled_body(call_id: str) -> dict[str, Any]:
    return {
        "success": True,
        "call_id": call_id,
        "status": "cancelled",
        "message": "Call has been successfully cancelled.",
    }


# --- many deletes of one completed call ------------------------------------------------------------


@pytest.mark.parametrize("transport", ["rest", "rest-and-webhook"])
def test_50_concurrent_deletes_give_exactly_one_200(
    live: httpx.Client,
    mock_server: MockServer,
    live_fixtures: FixturesClient,
    live_tenant: Any,
    transport: str,
) -> None:
    call_id = seed(live_fixtures, live_tenant, "completed", "delete50")["call_id"]
    requests = [
        hook(live_tenant, "call.delete", call_id)
        if transport == "rest-and-webhook" and i % 2
        else rest_delete(live_tenant, call_id)
        for i in range(50)
    ]
    answers = burst(mock_server.url, requests)

    assert Counter(a.status_code for a in answers) == {200: 1, 404: 49}
    (winner,) = (a for a in answers if a.status_code == 200)
    assert winner.json() == {"data": {"call_id": call_id, "deleted": True}}
    assert {error_code(a) for a in answers if a.status_code == 404} == {"NOT_FOUND"}
    after = read_back(live, live_tenant, call_id)
    assert after.status_code == 404
    assert error_code(after) == "NOT_FOUND"
    assert "delete50" not in after.text


# --- cancel racing delete, for each state ------------------------------------------------------


@dataclass(frozen=True)
class Allowed:
    """What the contract allows when cancels and deletes of a call in one state race."""

    cancel: frozenset[int]  # statuses each cancel may get
    delete_200s: int  # how many deletes succeed
    final: str | None  # status read back afterwards; None: gone


ALLOWED = {
    "queued": Allowed(frozenset({200}), 0, "cancelled"),
    "cancelled": Allowed(frozenset({200}), 0, "cancelled"),
    # Before the delete a cancel is refused (409); after it the call is gone (404).
    "completed": Allowed(frozenset({409, 404}), 1, None),
    "initiated": Allowed(frozenset({409}), 0, "initiated"),
    "ringing": Allowed(frozenset({409}), 0, "ringing"),
    "in_progress": Allowed(frozenset({409}), 0, "in_progress"),
    "failed": Allowed(frozenset({409}), 0, "failed"),
}
ERROR_CODES = {404: "NOT_FOUND", 409: "CALL_NOT_CANCELLABLE"}


def race(tenant: Any, call_id: str, transport: str, rng: random.Random) -> tuple[list[Req], list[Req]]:
    """Three cancels and three deletes; in `mixed`, cancels over REST and deletes over the webhook
    or the other way round."""
    hook_cancels = transport == "mixed" and rng.random() < 0.5
    hook_deletes = transport == "mixed" and not hook_cancels
    cancels = [hook(tenant, "call.cancel", call_id) if hook_cancels else rest_cancel(tenant, call_id)] * 3
    deletes = [hook(tenant, "call.delete", call_id) if hook_deletes else rest_delete(tenant, call_id)] * 3
    return cancels, deletes


@pytest.mark.parametrize("transport", ["rest", "mixed"])
@pytest.mark.parametrize("state", list(ALLOWED))
def test_cancel_racing_delete_ends_in_an_allowed_state(
    live: httpx.Client,
    mock_server: MockServer,
    live_fixtures: FixturesClient,
    live_tenant: Any,
    state: str,
    transport: str,
) -> None:
    allowed = ALLOWED[state]
    rng = random.Random(f"{state}-{transport}")
    for round_ in range(ROUNDS):
        call = seed(live_fixtures, live_tenant, state, f"race-{state}-{round_}")
        cancels, deletes = race(live_tenant, call["call_id"], transport, rng)
        order = list(range(6))
        rng.shuffle(order)  # the order the requests are started in
        requests = cancels + deletes
        answers = dict(zip(order, burst(mock_server.url, [requests[i] for i in order]), strict=True))
        cancel_answers = [answers[i] for i in range(3)]
        delete_answers = [answers[i] for i in range(3, 6)]
        where = f"{state}, round {round_}, order {order}"

        for answer in cancel_answers:
            assert answer.status_code in allowed.cancel, (where, answer.status_code, answer.text)
            if answer.status_code == 200:
                assert answer.json() == cancelled_body(call["call_id"]), where
            else:
                assert error_code(answer) == ERROR_CODES[answer.status_code], where
        delete_statuses = Counter(a.status_code for a in delete_answers)
        assert delete_statuses == Counter({200: allowed.delete_200s, 404: 3 - allowed.delete_200s}), where
        assert all(error_code(a) == "NOT_FOUND" for a in delete_answers if a.status_code == 404), where

        check_final(read_back(live, live_tenant, call["call_id"]), call, allowed.final, where)


def check_final(after: httpx.Response, seeded: dict[str, Any], final: str | None, where: str) -> None:
    if final is None:
        assert after.status_code == 404, (where, after.text)
        assert error_code(after) == "NOT_FOUND", where
        assert seeded["contact_name"] not in after.text, where
        return
    assert after.status_code == 200, (where, after.text)
    body = after.json()["data"]
    assert body["status"] == final, where
    if final == seeded["status"]:
        assert body == seeded, f"{where}: a refused request changed the call"
    else:
        assert {k: body.get(k) for k in PII} == {k: seeded.get(k) for k in PII}, f"{where}: PII lost"


# --- many cancels of one queued call ---------------------------------------------------------------


@pytest.mark.parametrize("transport", ["rest", "rest-and-webhook"])
def test_20_concurrent_cancels_all_answer_the_same_200(
    live: httpx.Client,
    mock_server: MockServer,
    live_fixtures: FixturesClient,
    live_tenant: Any,
    transport: str,
) -> None:
    call = seed(live_fixtures, live_tenant, "queued", "cancel20")
    requests = [
        hook(live_tenant, "call.cancel", call["call_id"])
        if transport == "rest-and-webhook" and i % 2
        else rest_cancel(live_tenant, call["call_id"])
        for i in range(20)
    ]
    answers = burst(mock_server.url, requests)

    assert [a.status_code for a in answers] == [200] * 20
    assert [a.json() for a in answers] == [cancelled_body(call["call_id"])] * 20
    check_final(read_back(live, live_tenant, call["call_id"]), call, "cancelled", transport)
