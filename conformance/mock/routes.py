"""The public routes of contract sections 5 and 6: REST calls endpoints and the inbound webhook.

Each handler applies the contract's order of checks: authentication, then scope, then the
request's own validity, then (in `operations`) existence and state.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import operations
from .auth import authenticate_key, authenticate_token, require_scope
from .errors import ApiError, Code
from .http import json_response, read_json, store_of
from .validation import validate

__all__ = ["public_routes"]

QUEUED_MESSAGE = "Call has been queued successfully."


def _org_with_scope(request: Request, scope: str) -> str:
    store = store_of(request)
    call_id = request.path_params.get("call_id")
    if call_id is not None and store.fault("auth-after-existence") and call_id not in store.calls:
        raise ApiError(404, Code.NOT_FOUND, operations.NOT_FOUND_MESSAGE)
    if call_id is not None and store.fault("odd-id-500") and (len(call_id) > 64 or not call_id.isascii()):
        raise ApiError(500, Code.INTERNAL_ERROR, "Internal server error.")  # the column is 64 ASCII chars
    key = authenticate_key(store, request.headers)
    if call_id is not None and store.fault("scope-after-existence") and call_id not in store.calls:
        raise ApiError(404, Code.NOT_FOUND, operations.NOT_FOUND_MESSAGE)
    require_scope(store, key, scope)
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
        store, call_id = store_of(request), request.path_params["call_id"]
        if store.fault("delete-race"):  # in a thread, so that concurrent deletes overlap in its window
            deleted = await run_in_threadpool(operations.delete_call, store, org_id, call_id)
        else:
            deleted = operations.delete_call(store, org_id, call_id)
        if store.fault("delete-204"):
            return Response(status_code=204)
        return json_response(deleted["data"] if store.fault("delete-unwrapped-body") else deleted)


class Cancel(HTTPEndpoint):
    async def post(self, request: Request) -> Response:
        org_id = _org_with_scope(request, "calls:cancel")
        return json_response(operations.cancel_call(store_of(request), org_id, request.path_params["call_id"]))


class Hook(HTTPEndpoint):
    async def post(self, request: Request) -> Response:
        store = store_of(request)
        org = authenticate_token(store, request.path_params["token"])
        body = await read_json(request)
        if store.fault("webhook-unknown-action-deletes") and _unknown_action_with_id(body):
            body = {"action": "call.delete", "data": {"call_id": body["data"]["call_id"]}}
        validate("openapi.yaml#/components/schemas/WebhookRequest", body)
        action, data = body["action"], body["data"]
        if action == "call.cancel":
            return json_response(operations.cancel_call(store, org.org_id, data["call_id"], via_webhook=True))
        if action == "call.delete":
            return json_response(operations.delete_call(store, org.org_id, data["call_id"], via_webhook=True))
        created = operations.create_call(store, org.org_id, data)["data"]
        queued = {
            "success": True,
            "call_id": created["call_id"],
            "status": "queued",
            "message": QUEUED_MESSAGE,
        }
        return json_response(queued)


def _unknown_action_with_id(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and body.get("action") not in ("call.create", "call.cancel", "call.delete")
        and isinstance(body.get("data"), dict)
        and isinstance(body["data"].get("call_id"), str)
    )


def public_routes() -> list[Route]:
    return [
        Route("/v1/calls", Calls),
        Route("/v1/calls/{call_id}", Call),
        Route("/v1/calls/{call_id}/cancel", Cancel),
        Route("/v1/hooks/{token}", Hook),
    ]
