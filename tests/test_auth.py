"""Contract section 2 through the HTTP interface: header forms, 401s, scopes, auth before existence."""

from __future__ import annotations

import pytest
from helpers import Tenant
from starlette.testclient import TestClient

from conformance.target.fixtures_client import ALL_SCOPES, FixturesClient, SeededOrg

REST_OPERATIONS = {
    "calls:read": ("GET", "/v1/calls/{id}"),
    "calls:cancel": ("POST", "/v1/calls/{id}/cancel"),
    "calls:delete": ("DELETE", "/v1/calls/{id}"),
}


def _send(client: TestClient, scope: str, call_id: str, headers: dict[str, str]):
    method, path = REST_OPERATIONS[scope]
    return client.request(method, path.format(id=call_id), headers=headers)


def _envelope(response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"]["code"], body["error"]["message"]


def test_both_header_forms_are_accepted(client: TestClient, fixtures: FixturesClient, tenant: Tenant) -> None:
    call = fixtures.call(tenant.org, "queued")
    for headers in (tenant.bearer, tenant.x_api_key, {"Authorization": f"bearer {tenant.key}"}):
        assert client.get(f"/v1/calls/{call['call_id']}", headers=headers).status_code == 200


def test_both_headers_with_the_same_key_are_accepted(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant
) -> None:
    call = fixtures.call(tenant.org, "queued")
    response = client.get(f"/v1/calls/{call['call_id']}", headers=tenant.bearer | tenant.x_api_key)
    assert response.status_code == 200


def _bad_credentials(tenant: Tenant, other_key: str, revoked_key: str) -> dict[str, dict[str, str]]:
    return {
        "missing": {},
        "empty-x-api-key": {"x-api-key": ""},
        "blank-x-api-key": {"x-api-key": "   "},
        "empty-bearer": {"Authorization": "Bearer "},
        "no-scheme": {"Authorization": tenant.key},
        "basic-scheme": {"Authorization": f"Basic {tenant.key}"},
        "bearer-two-tokens": {"Authorization": f"Bearer {tenant.key} extra"},
        "unknown-key": {"x-api-key": "sk_test_unknown"},
        "revoked-key": {"Authorization": f"Bearer {revoked_key}"},
        "case-changed-key": {"x-api-key": tenant.key.upper()},
        "prefix-of-key": {"x-api-key": tenant.key[:-1]},
        "headers-disagree": {"Authorization": f"Bearer {tenant.key}", "x-api-key": other_key},
        "headers-disagree-one-bad": {"Authorization": f"Bearer {tenant.key}", "x-api-key": "nope"},
    }


BAD_CREDENTIAL_NAMES = list(_bad_credentials(Tenant(SeededOrg("org", "token"), "key"), "other", "revoked"))


@pytest.mark.parametrize("credential", BAD_CREDENTIAL_NAMES)
@pytest.mark.parametrize("scope", list(REST_OPERATIONS))
def test_failed_auth_is_401_whatever_the_call(
    client: TestClient,
    fixtures: FixturesClient,
    tenant: Tenant,
    other_tenant: Tenant,
    scope: str,
    credential: str,
) -> None:
    """Auth before existence: existing, deleted, foreign and unknown ids answer identically."""
    revoked = fixtures.key(tenant.org, revoked=True)
    headers = _bad_credentials(tenant, other_tenant.key, revoked)[credential]
    own = fixtures.call(tenant.org, "completed")["call_id"]
    deleted = fixtures.call(tenant.org, "completed")["call_id"]
    assert client.delete(f"/v1/calls/{deleted}", headers=tenant.bearer).status_code == 200
    foreign = fixtures.call(other_tenant.org, "completed")["call_id"]
    answers = {_envelope(_send(client, scope, call_id, headers)) for call_id in (own, deleted, foreign, "nope")}
    assert answers == {(401, "UNAUTHORIZED", "Missing or invalid API key.")}
    # ...and nothing happened to the call.
    assert client.get(f"/v1/calls/{own}", headers=tenant.bearer).json()["data"]["status"] == "completed"


@pytest.mark.parametrize("scope", list(REST_OPERATIONS))
def test_missing_scope_is_403_before_existence_without_side_effect(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant, scope: str
) -> None:
    limited = fixtures.key(tenant.org, tuple(s for s in ALL_SCOPES if s != scope))
    queued = fixtures.call(tenant.org, "queued")["call_id"]
    completed = fixtures.call(tenant.org, "completed")["call_id"]
    answers = {
        _envelope(_send(client, scope, call_id, {"x-api-key": limited})) for call_id in (queued, completed, "nope")
    }
    assert answers == {(403, "FORBIDDEN", f"The API key lacks the {scope} scope.")}
    for call_id, status in ((queued, "queued"), (completed, "completed")):
        assert client.get(f"/v1/calls/{call_id}", headers=tenant.bearer).json()["data"]["status"] == status


def test_create_needs_its_scope(client: TestClient, fixtures: FixturesClient, tenant: Tenant) -> None:
    limited = fixtures.key(tenant.org, ("calls:read",))
    body = {"agent_id": "a", "contact_number": "+919876543210"}
    response = client.post("/v1/calls", json=body, headers={"x-api-key": limited})
    assert _envelope(response)[:2] == (403, "FORBIDDEN")
    assert client.post("/v1/calls", json=body, headers={}).status_code == 401


def test_auth_comes_before_body_validation(client: TestClient) -> None:
    response = client.post("/v1/calls", content=b"not json", headers={"x-api-key": "unknown"})
    assert _envelope(response)[:2] == (401, "UNAUTHORIZED")


def test_another_organisations_call_is_indistinguishable_from_none(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    for status in ("queued", "completed"):
        foreign = fixtures.call(other_tenant.org, status)
        for scope in REST_OPERATIONS:
            mine = _envelope(_send(client, scope, foreign["call_id"], tenant.bearer))
            never = _envelope(_send(client, scope, "00000000-0000-4000-8000-000000000000", tenant.bearer))
            assert mine == never
            assert mine[:2] == (404, "NOT_FOUND")
        seen = client.get(f"/v1/calls/{foreign['call_id']}", headers=other_tenant.bearer).json()["data"]
        assert seen == foreign  # untouched, PII and timestamps included


@pytest.mark.parametrize("token", ["unknown", "", "whk_", "other-org"])
@pytest.mark.parametrize("action", ["call.cancel", "call.delete", "call.create"])
def test_webhook_unknown_token_is_401_whatever_the_call(
    client: TestClient,
    fixtures: FixturesClient,
    tenant: Tenant,
    other_tenant: Tenant,
    token: str,
    action: str,
) -> None:
    own = fixtures.call(tenant.org, "completed")["call_id"]
    bad = {"other-org": tenant.org.webhook_token[:-1], "": "%20"}.get(token, token)
    data = {"agent_id": "a", "contact_number": "+919876543210"} if action == "call.create" else None
    answers = set()
    for call_id in (own, "nope"):
        body = {"action": action, "data": data or {"call_id": call_id}}
        answers.add(_envelope(client.post(f"/v1/hooks/{bad}", json=body)))
    assert answers == {(401, "UNAUTHORIZED", "Missing or invalid webhook token.")}
    assert client.get(f"/v1/calls/{own}", headers=tenant.bearer).status_code == 200


def test_webhook_token_names_its_own_organisation(
    client: TestClient, fixtures: FixturesClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = fixtures.call(other_tenant.org, "completed")["call_id"]
    response = client.post(tenant.hook(), json={"action": "call.delete", "data": {"call_id": foreign}})
    assert _envelope(response)[:2] == (404, "NOT_FOUND")
    assert client.get(f"/v1/calls/{foreign}", headers=other_tenant.bearer).status_code == 200
