"""The public routes of contract sections 5 and 6: REST calls endpoints and the inbound webhook.

Each handler applies the contract's order of checks: authentication, then scope, then the
request's own validity, then (in `operations`) existence and state.
"""

from __future__ import annotations

from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import operations
from .auth import authenticate_key, authenticate_token, require_scope
from .http import json_response, read_json, store_of
from .validation import validate

__all__ = ["public_routes"]

QUEUED_MESSAGE = "Call has been queued successfully."


def _org_with_scope(request: Request, scope: str) -> str:
    key = authenticate_key(store_of(request), request.headers)
    require_scope(key, scope)
    return key.org_id


class Calls(HTTPEndpoint):
    async def post(self, request: Request) -> Response:
        org_id = _org_with_scope(request, "calls:create")
        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key is not None:
            validate(
                "openapi.yaml#/components/parameters/IdempotencyKey/schema",
                idempotency_key,
                what="Idempotency-Key header",
            )
        body = await read_json(request)
        validate("openapi.yaml#/components/schemas/CreateCallRequest", body)
        created = operations.create_call(store_of(request), org_id, body, idempotency_key)
        return json_response(created, 201)


class Call(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        org_id = _org_with_scope(request, "calls:read")
        return json_response(operations.get_call(store_of(request), org_id, request.path_params["call_id"]))

    async def delete(self, request: Request) -> Response:
        org_id = _org_with_scope(request, "calls:delete")
        return json_response(operations.delete_call(store_of(request), org_id, request.path_params["call_id"]))


class Cancel(HTTPEndpoint):
    async def post(self, request: Request) -> Response:
        org_id = _org_with_scope(request, "calls:cancel")
        return json_response(operations.cancel_call(store_of(request), org_id, request.path_params["call_id"]))


class Hook(HTTPEndpoint):
    async def post(self, request: Request) -> Response:
        store = store_of(request)
        org = authenticate_token(store, request.path_params["token"])
        body = await read_json(request)
        validate("openapi.yaml#/components/schemas/WebhookRequest", body)
        action, data = body["action"], body["data"]
        if action == "call.cancel":
            return json_response(operations.cancel_call(store, org.org_id, data["call_id"]))
        if action == "call.delete":
            return json_response(operations.delete_call(store, org.org_id, data["call_id"]))
        created = operations.create_call(store, org.org_id, data)["data"]
        queued = {
            "success": True,
            "call_id": created["call_id"],
            "status": "queued",
            "message": QUEUED_MESSAGE,
        }
        return json_response(queued)


def public_routes() -> list[Route]:
    return [
        Route("/v1/calls", Calls),
        Route("/v1/calls/{call_id}", Call),
        Route("/v1/calls/{call_id}/cancel", Cancel),
        Route("/v1/hooks/{token}", Hook),
    ]
