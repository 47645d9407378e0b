"""The fixtures API of contract section 8: the test control plane, guarded by x-fixtures-token.

Served only when the mock has a fixtures token. It seeds organisations, keys and calls in any
state and moves calls forward as telephony would; it is not part of the public contract.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conformance.mock.errors import ApiError, Code
from conformance.mock.http import config_of, json_response, read_json, store_of
from conformance.mock.operations import store_full
from conformance.mock.store import StoreFull, can_move
from conformance.mock.validation import validate

__all__ = ["fixtures_routes"]

SEED_FIELDS = (
    "agent_id",
    "contact_number",
    "contact_name",
    "contact_email",
    "additional_info",
    "transcript",
    "recording_url",
    "duration_seconds",
)
SEED_DEFAULTS: dict[str, Any] = {"agent_id": "agent_fixture", "contact_number": "+919000000000"}


def _guard(request: Request) -> None:
    expected = config_of(request).fixtures_token or ""
    presented = request.headers.get("x-fixtures-token", "")
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError(401, Code.UNAUTHORIZED, "Missing or invalid fixtures token.")


async def _body(request: Request, schema: str) -> Any:
    body = await read_json(request)
    validate(f"fixtures.yaml#/components/schemas/{schema}", body)
    return body


def _require_org(request: Request, org_id: str) -> None:
    if org_id not in store_of(request).orgs:
        raise ApiError(404, Code.NOT_FOUND, "No such organisation.")


async def create_org(request: Request) -> Response:
    _guard(request)
    org = store_of(request).add_org()
    return json_response({"org_id": org.org_id, "webhook_token": org.webhook_token}, 201)


async def create_key(request: Request) -> Response:
    _guard(request)
    org_id = request.path_params["org_id"]
    body = await _body(request, "KeyRequest")
    _require_org(request, org_id)
    key = store_of(request).add_key(org_id, frozenset(body["scopes"]), revoked=body.get("revoked", False))
    return json_response({"api_key": key.secret}, 201)


async def seed_call(request: Request) -> Response:
    _guard(request)
    body = await _body(request, "SeedCallRequest")
    _require_org(request, body["org_id"])
    fields = SEED_DEFAULTS | {name: body[name] for name in SEED_FIELDS if name in body}
    store = store_of(request)
    try:
        call = store.add_call(body["org_id"], body["status"], **fields)
    except StoreFull:
        raise store_full(store) from None
    return json_response({"data": call.to_json()}, 201)


async def advance_call(request: Request) -> Response:
    _guard(request)
    body = await _body(request, "StatusChange")
    store = store_of(request)
    with store.lock:
        call = store.calls.get(request.path_params["call_id"])
        if call is None:
            raise ApiError(404, Code.NOT_FOUND, "No such call.")
        if not can_move(call.status, body["status"]):
            raise ApiError(400, Code.VALIDATION_ERROR, f"Cannot move a call from {call.status} to {body['status']}.")
        call.move(body["status"])
        return json_response({"data": call.to_json()})


async def reset(request: Request) -> Response:
    _guard(request)
    store_of(request).reset()
    return Response(status_code=204)


def fixtures_routes() -> list[Route]:
    return [
        Route("/_fixtures/orgs", create_org, methods=["POST"]),
        Route("/_fixtures/orgs/{org_id}/keys", create_key, methods=["POST"]),
        Route("/_fixtures/calls", seed_call, methods=["POST"]),
        Route("/_fixtures/calls/{call_id}/status", advance_call, methods=["POST"]),
        Route("/_fixtures/reset", reset, methods=["POST"]),
    ]
