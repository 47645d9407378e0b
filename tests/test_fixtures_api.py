"""The fixtures API of contract section 8, through the in-process mock.

It is the suite's only way to put a target into a given state, so it must do exactly what it says:
guard every route with the fixtures token, seed calls in every state of section 4, move them only
forward, and forget everything on reset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import FIXTURES_TOKEN, Tenant
from starlette.testclient import TestClient

from conformance.mock import MockConfig, create_app
from conformance.target.fixtures_client import FixturesClient

STATUSES = ("queued", "initiated", "ringing", "in_progress", "completed", "failed", "cancelled")
# The single steps of contract section 4 (telephony, and cancel while queued).
STEPS = {
    "queued": {"initiated", "cancelled"},
    "initiated": {"ringing", "failed"},
    "ringing": {"in_progress", "failed"},
    "in_progress": {"completed", "failed"},
}
TELEPHONY_FIELDS = ("transcript", "recording_url", "duration_seconds")
ALL_SCOPES = ["calls:create", "calls:read", "calls:cancel", "calls:delete"]
PII: dict[str, Any] = {
    "agent_id": "agent_pii_7f3a",
    "contact_number": "+919812345678",
    "contact_name": "Asha Verma 7f3a",
    "contact_email": "asha.7f3a@example.com",
    "additional_info": {"company": "Acme 7f3a", "notes": ["renewal", {"tier": 2}]},
    "transcript": [
        {"speaker": "agent", "text": "Hello Asha, this is Acme."},
        {"speaker": "contact", "text": "My reference is 7f3a."},
    ],
    "recording_url": "https://recordings.example.com/7f3a.mp3",
    "duration_seconds": 93,
}


def _ahead(status: str) -> set[str]:
    """Every status reachable from `status` in one step or several."""
    found: set[str] = set()
    todo = list(STEPS.get(status, ()))
    while todo:
        step = todo.pop()
        if step not in found:
            found.add(step)
            todo.extend(STEPS.get(step, ()))
    return found


MOVES = [(old, new) for old in STATUSES for new in STATUSES]
FORWARD = [(old, new) for old, new in MOVES if new in _ahead(old)]
NOT_FORWARD = [(old, new) for old, new in MOVES if new not in _ahead(old)]


def _move_id(move: tuple[str, str]) -> str:
    return f"{move[0]}->{move[1]}"


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


def _fixtures_post(client: TestClient, path: str, body: Any = None, **headers: str) -> httpx.Response:
    return client.post(path, json=body, headers={"x-fixtures-token": FIXTURES_TOKEN, **headers})


def _get_call(client: TestClient, tenant: Tenant, call_id: str) -> httpx.Response:
    return client.get(f"/v1/calls/{call_id}", headers=tenant.bearer)


def _seen(client: TestClient, tenant: Tenant, call_id: str) -> dict[str, Any]:
    response = _get_call(client, tenant, call_id)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


# --- the fixtures token guards every route --------------------------------------------------------

ROUTES = ("create org", "create key", "seed call", "advance call", "reset")
TOKEN_STATES: dict[str, Callable[[Tenant], str | None]] = {
    "no header": lambda tenant: None,
    "empty header": lambda tenant: "",
    "wrong token": lambda tenant: "fixtures-wrong-" + FIXTURES_TOKEN[-8:],
    "truncated token": lambda tenant: FIXTURES_TOKEN[:-1],
    "token plus suffix": lambda tenant: FIXTURES_TOKEN + "x",
    "token in other case": lambda tenant: FIXTURES_TOKEN.swapcase(),
    "public API key": lambda tenant: tenant.key,
}


def _route_request(route: str, org_id: str, call_id: str) -> tuple[str, Any]:
    """A request that would succeed on `route` with the right token (it names things that exist)."""
    return {
        "create org": ("/_fixtures/orgs", None),
        "create key": (f"/_fixtures/orgs/{org_id}/keys", {"scopes": ALL_SCOPES}),
        "seed call": ("/_fixtures/calls", {"org_id": org_id, "status": "completed"}),
        "advance call": (f"/_fixtures/calls/{call_id}/status", {"status": "initiated"}),
        "reset": ("/_fixtures/reset", None),
    }[route]


@pytest.mark.parametrize("state", TOKEN_STATES)
@pytest.mark.parametrize("route", ROUTES)
def test_route_refuses_a_missing_or_wrong_token(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant, route: str, state: str
) -> None:
    call = fixtures.call(tenant.org, "queued")
    path, body = _route_request(route, tenant.org.org_id, call["call_id"])
    token = TOKEN_STATES[state](tenant)
    headers = {} if token is None else {"x-fixtures-token": token}
    response = client.post(path, json=body, headers=headers)
    assert_error(response, 401, "UNAUTHORIZED")
    # no side effect: nothing was reset and the call did not move
    assert _seen(client, tenant, call["call_id"])["status"] == "queued"


@pytest.mark.parametrize("config", [MockConfig(), MockConfig(fixtures_token="")], ids=["no token", "empty token"])
@pytest.mark.parametrize("route", ROUTES)
def test_a_mock_without_fixtures_token_serves_no_fixtures_api(config: MockConfig, route: str) -> None:
    with TestClient(create_app(config)) as bare:
        path = _route_request(route, "org_none", "call_none")[0]
        for headers in ({}, {"x-fixtures-token": FIXTURES_TOKEN}, {"x-fixtures-token": ""}):
            assert_error(bare.post(path, json={}, headers=headers), 404, "NOT_FOUND")


# --- organisations and keys -----------------------------------------------------------------------


def test_orgs_get_distinct_ids_and_webhook_tokens(client: TestClient) -> None:
    bodies = []
    for _ in range(5):
        response = _fixtures_post(client, "/_fixtures/orgs")
        assert response.status_code == 201
        bodies.append(response.json())
    assert all(set(body) == {"org_id", "webhook_token"} for body in bodies)
    values = [body[field] for body in bodies for field in ("org_id", "webhook_token")]
    assert all(isinstance(value, str) and value for value in values)
    assert len(set(values)) == len(values)


def test_a_webhook_token_acts_for_its_own_org_only(client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
    created = client.post(
        tenant.hook(),
        json={"action": "call.create", "data": {"agent_id": "a", "contact_number": "+919000000001"}},
    )
    assert created.status_code == 200, created.text
    call_id = created.json()["call_id"]
    assert _seen(client, tenant, call_id)["status"] == "queued"
    assert_error(_get_call(client, other_tenant, call_id), 404, "NOT_FOUND")


def test_a_new_key_works_in_both_header_forms(client: TestClient, fixtures: FixturesClient, tenant: Tenant) -> None:
    response = _fixtures_post(client, f"/_fixtures/orgs/{tenant.org.org_id}/keys", {"scopes": ALL_SCOPES})
    assert response.status_code == 201
    assert set(response.json()) == {"api_key"}
    key = response.json()["api_key"]
    call = fixtures.call(tenant.org, "queued")
    for headers in ({"Authorization": f"Bearer {key}"}, {"x-api-key": key}):
        assert client.get(f"/v1/calls/{call['call_id']}", headers=headers).status_code == 200


def test_a_key_has_only_its_scopes(client: TestClient, fixtures: FixturesClient, tenant: Tenant) -> None:
    reader = {"x-api-key": fixtures.key(tenant.org, ("calls:read",))}
    call = fixtures.call(tenant.org, "completed")
    assert client.get(f"/v1/calls/{call['call_id']}", headers=reader).status_code == 200
    assert_error(client.delete(f"/v1/calls/{call['call_id']}", headers=reader), 403, "FORBIDDEN")
    assert_error(client.post(f"/v1/calls/{call['call_id']}/cancel", headers=reader), 403, "FORBIDDEN")
    nothing = {"x-api-key": fixtures.key(tenant.org, ())}
    assert_error(client.get(f"/v1/calls/{call['call_id']}", headers=nothing), 403, "FORBIDDEN")
    assert _seen(client, tenant, call["call_id"]) == call


@pytest.mark.parametrize(
    "body",
    [
        {"scopes": ["calls:write"]},
        {"scopes": ["calls:read", "CALLS:DELETE"]},
        {"scopes": ["calls:read", "calls:read"]},
        {"scopes": "calls:read"},
        {"scopes": [None]},
        {},
        {"scopes": ["calls:read"], "revoked": "no"},
        [],
    ],
    ids=[
        "unknown scope",
        "scope in upper case",
        "repeated scope",
        "scopes not a list",
        "null scope",
        "no scopes",
        "revoked not a boolean",
        "body not an object",
    ],
)
def test_an_invalid_key_request_is_a_validation_error(client: TestClient, tenant: Tenant, body: Any) -> None:
    response = _fixtures_post(client, f"/_fixtures/orgs/{tenant.org.org_id}/keys", body)
    assert_error(response, 400, "VALIDATION_ERROR")


def test_a_key_for_an_unknown_org_is_not_found(client: TestClient, tenant: Tenant) -> None:
    for org_id in ("org_unknown", tenant.org.org_id.upper(), tenant.org.org_id + "x"):
        response = _fixtures_post(client, f"/_fixtures/orgs/{org_id}/keys", {"scopes": ALL_SCOPES})
        assert_error(response, 404, "NOT_FOUND")


def test_a_revoked_key_is_unauthorised(client: TestClient, fixtures: FixturesClient, tenant: Tenant) -> None:
    revoked = fixtures.key(tenant.org, tuple(ALL_SCOPES), revoked=True)
    call = fixtures.call(tenant.org, "completed")
    for headers in ({"Authorization": f"Bearer {revoked}"}, {"x-api-key": revoked}):
        assert_error(client.get(f"/v1/calls/{call['call_id']}", headers=headers), 401, "UNAUTHORIZED")
        assert_error(client.delete(f"/v1/calls/{call['call_id']}", headers=headers), 401, "UNAUTHORIZED")
        assert_error(client.delete("/v1/calls/call_unknown", headers=headers), 401, "UNAUTHORIZED")
    assert _seen(client, tenant, call["call_id"]) == call


# --- seeding calls --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
def test_a_call_can_be_seeded_in_every_state(client: TestClient, tenant: Tenant, status: str) -> None:
    response = _fixtures_post(client, "/_fixtures/calls", {"org_id": tenant.org.org_id, "status": status, **PII})
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"data"}
    seeded = response.json()["data"]
    assert seeded["status"] == status
    shown = _seen(client, tenant, seeded["call_id"])
    assert shown == seeded
    for name in TELEPHONY_FIELDS:
        if status == "completed":
            assert shown[name] == PII[name]
        else:
            assert name not in shown, f"a {status} call shows {name}"


def test_seeded_pii_round_trips(client: TestClient, fixtures: FixturesClient, tenant: Tenant) -> None:
    seeded = fixtures.call(tenant.org, "completed", **PII)
    shown = _seen(client, tenant, seeded["call_id"])
    for name, value in PII.items():
        assert seeded[name] == value, name
        assert shown[name] == value, name


def test_seeded_telephony_fields_show_once_the_call_completes(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant
) -> None:
    seeded = fixtures.call(tenant.org, "ringing", **PII)
    assert not set(TELEPHONY_FIELDS) & set(_seen(client, tenant, seeded["call_id"]))
    fixtures.advance(seeded["call_id"], "completed")
    shown = _seen(client, tenant, seeded["call_id"])
    assert {name: shown[name] for name in PII} == PII


def test_a_seeded_call_belongs_to_its_org_only(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    call = fixtures.call(tenant.org, "completed")
    assert_error(_get_call(client, other_tenant, call["call_id"]), 404, "NOT_FOUND")


def test_seeding_for_an_unknown_org_is_not_found(client: TestClient, tenant: Tenant) -> None:
    for org_id in ("org_unknown", tenant.org.org_id.upper(), ""):
        response = _fixtures_post(client, "/_fixtures/calls", {"org_id": org_id, "status": "queued"})
        assert_error(response, 404, "NOT_FOUND")


OMIT = object()  # a member left out of the seed body


@pytest.mark.parametrize(
    "change",
    [
        {"status": "deleted"},
        {"status": "COMPLETED"},
        {"status": ""},
        {"status": None},
        {"status": 4},
        {"status": OMIT},
        {"org_id": OMIT},
        {"org_id": None},
        {"duration_seconds": -1},
        {"duration_seconds": 1.5},
        {"transcript": [{"speaker": "agent"}]},
        {"agent_id": ""},
    ],
    ids=[
        "unknown status",
        "status in upper case",
        "empty status",
        "null status",
        "numeric status",
        "no status",
        "no org",
        "null org",
        "negative duration",
        "fractional duration",
        "transcript entry without text",
        "empty agent id",
    ],
)
def test_an_invalid_seed_is_a_validation_error(client: TestClient, tenant: Tenant, change: dict[str, Any]) -> None:
    body = {"org_id": tenant.org.org_id, "status": "queued"} | change
    body = {name: value for name, value in body.items() if value is not OMIT}
    assert_error(_fixtures_post(client, "/_fixtures/calls", body), 400, "VALIDATION_ERROR")


# --- moving calls ---------------------------------------------------------------------------------


def test_the_move_table_covers_the_lifecycle() -> None:
    assert len(FORWARD) == 15
    assert ("queued", "completed") in FORWARD
    assert ("queued", "failed") in FORWARD
    assert ("completed", "queued") in NOT_FORWARD


@pytest.mark.parametrize("move", FORWARD, ids=_move_id)
def test_every_forward_move_is_allowed(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant, move: tuple[str, str]
) -> None:
    old, new = move
    call = fixtures.call(tenant.org, old, **PII)
    response = _fixtures_post(client, f"/_fixtures/calls/{call['call_id']}/status", {"status": new})
    assert response.status_code == 200, response.text
    moved = response.json()["data"]
    assert moved["status"] == new
    assert moved["call_id"] == call["call_id"]
    assert _seen(client, tenant, call["call_id"]) == moved


@pytest.mark.parametrize("move", NOT_FORWARD, ids=_move_id)
def test_every_backward_or_sideways_move_is_refused(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant, move: tuple[str, str]
) -> None:
    old, new = move
    call = fixtures.call(tenant.org, old, **PII)
    before = _seen(client, tenant, call["call_id"])
    response = _fixtures_post(client, f"/_fixtures/calls/{call['call_id']}/status", {"status": new})
    assert_error(response, 400, "VALIDATION_ERROR")
    assert _seen(client, tenant, call["call_id"]) == before


@pytest.mark.parametrize(
    "body", [{"status": "deleted"}, {"status": None}, {}, []], ids=["unknown", "null", "missing", "array"]
)
def test_an_invalid_status_change_is_a_validation_error(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant, body: Any
) -> None:
    call = fixtures.call(tenant.org, "queued")
    response = _fixtures_post(client, f"/_fixtures/calls/{call['call_id']}/status", body)
    assert_error(response, 400, "VALIDATION_ERROR")
    assert _seen(client, tenant, call["call_id"]) == call


def test_moving_an_unknown_call_is_not_found(client: TestClient, fixtures: FixturesClient, tenant: Tenant) -> None:
    call = fixtures.call(tenant.org, "completed")
    assert client.delete(f"/v1/calls/{call['call_id']}", headers=tenant.bearer).status_code == 200
    for call_id in ("call_unknown", call["call_id"], call["call_id"].upper()):
        response = _fixtures_post(client, f"/_fixtures/calls/{call_id}/status", {"status": "completed"})
        assert_error(response, 404, "NOT_FOUND")


# --- reset ----------------------------------------------------------------------------------------


def test_reset_forgets_orgs_keys_and_calls(client: TestClient, fixtures: FixturesClient, tenant: Tenant) -> None:
    call = fixtures.call(tenant.org, "queued", **PII)
    response = _fixtures_post(client, "/_fixtures/reset")
    assert response.status_code == 204
    assert response.content == b""
    assert_error(_get_call(client, tenant, call["call_id"]), 401, "UNAUTHORIZED")
    assert_error(client.get(f"/v1/calls/{call['call_id']}", headers=tenant.x_api_key), 401, "UNAUTHORIZED")
    cancel = {"action": "call.cancel", "data": {"call_id": call["call_id"]}}
    assert_error(client.post(tenant.hook(), json=cancel), 401, "UNAUTHORIZED")
    moved = _fixtures_post(client, f"/_fixtures/calls/{call['call_id']}/status", {"status": "initiated"})
    assert_error(moved, 404, "NOT_FOUND")
    keys = _fixtures_post(client, f"/_fixtures/orgs/{tenant.org.org_id}/keys", {"scopes": ALL_SCOPES})
    assert_error(keys, 404, "NOT_FOUND")
    seeded = _fixtures_post(client, "/_fixtures/calls", {"org_id": tenant.org.org_id, "status": "queued"})
    assert_error(seeded, 404, "NOT_FOUND")


def test_the_mock_works_again_after_reset(client: TestClient, fixtures: FixturesClient) -> None:
    fixtures.reset()
    fixtures.reset()
    org = fixtures.org()
    fresh = Tenant(org, fixtures.key(org))
    call = fixtures.call(org, "completed")
    assert _seen(client, fresh, call["call_id"]) == call
