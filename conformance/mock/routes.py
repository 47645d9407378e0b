"""The public routes of contract sections 5 and 6: REST calls endpoints and the inbound webhook.

Each handler applies the contract's order of checks: authentication, then scope, then the
request's own validity, then (in `operations`) existence and state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conformance.mock import operations
from conformance.mock.auth import authenticate_key, authenticate_token, require_scope
from conformance.mock.errors import ApiError, Code
from conformance.mock.http import json_response, read_json, store_of
from conformance.mock.validation import validate

__all__ = ["fast_route", "public_routes"]

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


async def create(request: Request) -> Response:
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


async def get(request: Request) -> Response:
    org_id = _org_with_scope(request, "calls:read")
    return json_response(operations.get_call(store_of(request), org_id, request.path_params["call_id"]))


async def delete(request: Request) -> Response:
    org_id = _org_with_scope(request, "calls:delete")
    store, call_id = store_of(request), request.path_params["call_id"]
    if store.fault("delete-race"):  # in a thread, so that concurrent deletes overlap in its window
        deleted = await run_in_threadpool(operations.delete_call, store, org_id, call_id)
    else:
        deleted = operations.delete_call(store, org_id, call_id)
    if store.fault("delete-204"):
        return Response(status_code=204)
    return json_response(deleted["data"] if store.fault("delete-unwrapped-body") else deleted)


async def cancel(request: Request) -> Response:
    org_id = _org_with_scope(request, "calls:cancel")
    return json_response(operations.cancel_call(store_of(request), org_id, request.path_params["call_id"]))


async def hook(request: Request) -> Response:
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


Handler = Callable[[Request], Awaitable[Response]]


def _endpoint(**methods: Handler) -> type[HTTPEndpoint]:
    """Starlette's form of a route's handlers, which also answers HEAD and wrong methods (405, Allow)."""
    return type("Endpoint", (HTTPEndpoint,), {name: staticmethod(handler) for name, handler in methods.items()})


def public_routes() -> list[Route]:
    return [
        Route("/v1/calls", _endpoint(post=create)),
        Route("/v1/calls/{call_id}", _endpoint(get=get, delete=delete)),
        Route("/v1/calls/{call_id}/cancel", _endpoint(post=cancel)),
        Route("/v1/hooks/{token}", _endpoint(post=hook)),
    ]


_CALL_METHODS: dict[str, Handler] = {"GET": get, "DELETE": delete}


def fast_route(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The handler and path parameters of a request `public_routes` would route to a handler.

    The same routes, matched without Starlette's machinery (a path segment is `[^/]+`, as in a
    Starlette route); None for anything else (HEAD, a wrong method, another path), which Starlette
    then answers.
    """
    parts = path.split("/")
    if len(parts) < 3 or parts[0] or parts[1] != "v1" or "" in parts[3:]:
        return None
    if parts[2] == "calls":
        if len(parts) == 4:
            found = _CALL_METHODS.get(method)
            return (found, {"call_id": parts[3]}) if found else None
        if len(parts) == 5 and parts[4] == "cancel" and method == "POST":
            return cancel, {"call_id": parts[3]}
        if len(parts) == 3 and method == "POST":
            return create, {}
    if parts[2] == "hooks" and len(parts) == 4 and method == "POST":
        return hook, {"token": parts[3]}
    return None
