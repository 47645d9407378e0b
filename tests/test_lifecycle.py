"""Contract sections 4-6 through the HTTP interface: cancel versus delete in every state, repeats,
erasure, idempotent create, and REST/webhook equivalence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import Tenant
from starlette.testclient import TestClient

from conformance.target.fixtures_client import FixturesClient

STATES = ("queued", "initiated", "ringing", "in_progress", "completed", "failed", "cancelled")
CREATE = {"agent_id": "agent_123", "contact_number": "+919876543210"}


def _pii(tag: str) -> dict[str, Any]:
    """Synthetic PII unique to one call, so that any leak of it can be found by substring."""
    return {
        "contact_number": "+9198" + str(abs(hash(tag)) % 10**8).zfill(8),
        "contact_name": f"Name-{tag}",
        "contact_email": f"mail-{tag}@example.com",
        "additional_info": {"note": f"info-{tag}"},
        "transcript": [{"speaker": "contact", "text": f"transcript-{tag}"}],
        "recording_url": f"https://rec.example.com/{tag}.mp3",
    }


def _status(client: TestClient, tenant: Tenant, call_id: str) -> str | None:
    response = client.get(f"/v1/calls/{call_id}", headers=tenant.bearer)
    return response.json()["data"]["status"] if response.status_code == 200 else None


def _rest(client: TestClient, tenant: Tenant, action: str, call_id: str):
    if action == "cancel":
        return client.post(f"/v1/calls/{call_id}/cancel", headers=tenant.bearer)
    return client.delete(f"/v1/calls/{call_id}", headers=tenant.x_api_key)


def _hook(client: TestClient, tenant: Tenant, action: str, call_id: str):
    return client.post(tenant.hook(), json={"action": f"call.{action}", "data": {"call_id": call_id}})


# state -> (cancel status, cancel error code, status after), (delete ...)
TABLE = {
    "queued": ((200, None, "cancelled"), (404, "NOT_FOUND", "queued")),
    "initiated": ((409, "CALL_NOT_CANCELLABLE", "initiated"), (404, "NOT_FOUND", "initiated")),
    "ringing": ((409, "CALL_NOT_CANCELLABLE", "ringing"), (404, "NOT_FOUND", "ringing")),
    "in_progress": ((409, "CALL_NOT_CANCELLABLE", "in_progress"), (404, "NOT_FOUND", "in_progress")),
    "completed": ((409, "CALL_NOT_CANCELLABLE", "completed"), (200, None, None)),
    "failed": ((409, "CALL_NOT_CANCELLABLE", "failed"), (404, "NOT_FOUND", "failed")),
    "cancelled": ((200, None, "cancelled"), (404, "NOT_FOUND", "cancelled")),
}


@pytest.mark.parametrize("transport", ["rest", "webhook"])
@pytest.mark.parametrize("action", ["cancel", "delete"])
@pytest.mark.parametrize("state", STATES)
def test_cancel_versus_delete_table(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant, state: str, action: str, transport: str
) -> None:
    call = fixtures.call(tenant.org, state, **_pii(f"{state}-{action}"))
    expected_status, expected_code, expected_after = TABLE[state][action == "delete"]
    send = _rest if transport == "rest" else _hook
    response = send(client, tenant, action, call["call_id"])
    assert response.status_code == expected_status
    if expected_code:
        assert response.json()["error"]["code"] == expected_code
    assert _status(client, tenant, call["call_id"]) == expected_after
    if expected_after == state:  # refused: nothing at all changed
        after = client.get(f"/v1/calls/{call['call_id']}", headers=tenant.bearer).json()["data"]
        assert after == call


def test_cancel_keeps_the_record_and_its_pii(client: TestClient, fixtures: FixturesClient, tenant: Tenant) -> None:
    call = fixtures.call(tenant.org, "queued", **_pii("keep"))
    body = _rest(client, tenant, "cancel", call["call_id"]).json()
    assert body == {
        "success": True,
        "call_id": call["call_id"],
        "status": "cancelled",
        "message": "Call has been successfully cancelled.",
    }
    after = client.get(f"/v1/calls/{call['call_id']}", headers=tenant.bearer).json()["data"]
    kept = ("contact_number", "contact_name", "contact_email", "additional_info", "created_at")
    assert {k: after[k] for k in kept} == {k: call[k] for k in kept}


def test_repeat_cancel_answers_the_same_200(client: TestClient, fixtures: FixturesClient, tenant: Tenant) -> None:
    call_id = fixtures.call(tenant.org, "queued")["call_id"]
    answers = [_rest(client, tenant, "cancel", call_id) for _ in range(3)]
    answers.append(_hook(client, tenant, "cancel", call_id))
    assert {r.status_code for r in answers} == {200}
    assert len({r.content for r in answers}) == 1


def test_repeat_delete_is_404_on_both_transports(client: TestClient, fixtures: FixturesClient, tenant: Tenant) -> None:
    call_id = fixtures.call(tenant.org, "completed")["call_id"]
    first = _rest(client, tenant, "delete", call_id)
    assert first.json() == {"data": {"call_id": call_id, "deleted": True}}
    for send in (_rest, _hook, _rest):
        again = send(client, tenant, "delete", call_id)
        assert (again.status_code, again.json()["error"]["code"]) == (404, "NOT_FOUND")
    for send in (_rest, _hook):
        assert send(client, tenant, "cancel", call_id).status_code == 404


def test_deleted_over_the_webhook_is_gone_over_rest(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant
) -> None:
    call_id = fixtures.call(tenant.org, "completed")["call_id"]
    assert _hook(client, tenant, "delete", call_id).json() == {"data": {"call_id": call_id, "deleted": True}}
    assert client.get(f"/v1/calls/{call_id}", headers=tenant.bearer).status_code == 404
    assert _rest(client, tenant, "delete", call_id).status_code == 404


def test_rest_and_webhook_answer_alike_in_every_state(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant
) -> None:
    for state in STATES:
        for action in ("cancel", "delete"):
            twins = [fixtures.call(tenant.org, state) for _ in range(2)]
            rest = _rest(client, tenant, action, twins[0]["call_id"])
            hook = _hook(client, tenant, action, twins[1]["call_id"])
            assert rest.status_code == hook.status_code, (state, action)
            rest_body = json.loads(rest.content.replace(twins[0]["call_id"].encode(), b"ID"))
            hook_body = json.loads(hook.content.replace(twins[1]["call_id"].encode(), b"ID"))
            assert rest_body == hook_body, (state, action)
            assert _status(client, tenant, twins[0]["call_id"]) == _status(client, tenant, twins[1]["call_id"])


def _every_answer(client: TestClient, tenant: Tenant, call_id: str) -> list[bytes]:
    """What every endpoint answers about `call_id` now, over both transports."""
    answers = [
        client.get(f"/v1/calls/{call_id}", headers=tenant.bearer),
        _rest(client, tenant, "cancel", call_id),
        _rest(client, tenant, "delete", call_id),
        _hook(client, tenant, "cancel", call_id),
        _hook(client, tenant, "delete", call_id),
    ]
    return [r.content for r in answers]


def test_delete_erases_every_trace_of_the_pii(client: TestClient, fixtures: FixturesClient, tenant: Tenant) -> None:
    pii = _pii("erase-me")
    call_id = fixtures.call(tenant.org, "completed", **pii)["call_id"]
    before = client.get(f"/v1/calls/{call_id}", headers=tenant.bearer).content
    assert b"Name-erase-me" in before
    assert b"transcript-erase-me" in before
    assert _rest(client, tenant, "delete", call_id).status_code == 200
    after = b"".join(_every_answer(client, tenant, call_id))
    for value in ("Name-erase-me", "mail-erase-me", "info-erase-me", "transcript-erase-me", "erase-me.mp3"):
        assert value.encode() not in after
    assert pii["contact_number"].encode() not in after


def test_idempotent_create_replays_and_conflicts(client: TestClient, tenant: Tenant) -> None:
    headers = tenant.bearer | {"Idempotency-Key": "key-1"}
    first = client.post("/v1/calls", json=CREATE, headers=headers)
    again = client.post("/v1/calls", json=CREATE, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    other = client.post("/v1/calls", json=CREATE | {"contact_name": "Other"}, headers=headers)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "IDEMPOTENCY_CONFLICT")
    fresh = client.post("/v1/calls", json=CREATE, headers=tenant.bearer | {"Idempotency-Key": "key-2"})
    assert fresh.json()["data"]["call_id"] != first.json()["data"]["call_id"]


def test_idempotency_keys_are_per_organisation(client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
    mine = client.post("/v1/calls", json=CREATE, headers=tenant.bearer | {"Idempotency-Key": "shared"})
    theirs = client.post("/v1/calls", json=CREATE, headers=other_tenant.bearer | {"Idempotency-Key": "shared"})
    assert mine.json()["data"]["call_id"] != theirs.json()["data"]["call_id"]


def test_idempotent_replay_never_resurrects_erased_pii(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant
) -> None:
    body = CREATE | {"contact_name": "Replay-PII"}
    headers = tenant.bearer | {"Idempotency-Key": "replay"}
    call_id = client.post("/v1/calls", json=body, headers=headers).json()["data"]["call_id"]
    fixtures.advance(call_id, "completed")
    assert _rest(client, tenant, "delete", call_id).status_code == 200
    replay = client.post("/v1/calls", json=body, headers=headers)
    assert replay.status_code == 201
    assert replay.json()["data"]["call_id"] != call_id  # a new call, not the erased one


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"agent_id": "a"},
        {"contact_number": "+919876543210"},
        {"agent_id": "", "contact_number": "+919876543210"},
        {"agent_id": "a", "contact_number": "+1234567890"},
        {"agent_id": "a", "contact_number": "+91987654321"},
        {"agent_id": 7, "contact_number": "+919876543210"},
        {"agent_id": "a", "contact_number": "+919876543210", "contact_name": 5},
        {"agent_id": "a", "contact_number": "+919876543210", "additional_info": []},
    ],
    ids=lambda body: json.dumps(body),
)
def test_create_validates_its_body(client: TestClient, tenant: Tenant, body: dict[str, Any]) -> None:
    for response in (
        client.post("/v1/calls", json=body, headers=tenant.bearer),
        client.post(tenant.hook(), json={"action": "call.create", "data": body}),
    ):
        assert (response.status_code, response.json()["error"]["code"]) == (400, "VALIDATION_ERROR")


def test_create_answers_a_queued_call_on_both_transports(client: TestClient, tenant: Tenant) -> None:
    rest = client.post("/v1/calls", json=CREATE | {"unknown_field": 1}, headers=tenant.bearer)
    assert rest.status_code == 201
    created = rest.json()["data"]
    assert (created["status"], created["agent_id"], created["contact_name"]) == ("queued", "agent_123", None)
    assert "transcript" not in created
    assert "unknown_field" not in created
    hook = client.post(tenant.hook(), json={"action": "call.create", "data": CREATE})
    assert hook.status_code == 200
    assert hook.json() | {"call_id": "X"} == {
        "success": True,
        "call_id": "X",
        "status": "queued",
        "message": "Call has been queued successfully.",
    }
    assert _status(client, tenant, hook.json()["call_id"]) == "queued"


@pytest.mark.parametrize(
    "body",
    [
        {"action": "call.explode", "data": {"call_id": "x"}},
        {"action": "call.delete"},
        {"action": "call.delete", "data": {}},
        {"action": "call.delete", "data": {"call_id": 5}},
        {"action": "call.cancel", "data": "x"},
        {"data": {"call_id": "x"}},
        [],
        "call.delete",
    ],
    ids=lambda body: json.dumps(body),
)
def test_webhook_rejects_bad_bodies_without_side_effect(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant, body: Any
) -> None:
    call = fixtures.call(tenant.org, "completed")
    if isinstance(body, dict) and isinstance(body.get("data"), dict) and body["data"].get("call_id") == "x":
        body["data"]["call_id"] = call["call_id"]
    response = client.post(tenant.hook(), json=body)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert client.get(f"/v1/calls/{call['call_id']}", headers=tenant.bearer).json()["data"] == call
