"""The public routes of contract sections 5 and 6: REST calls endpoints and the inbound webhook.

Each handler applies the contract's order of checks: authentication, then scope, then the
request's own validity, then (in `operations`) existence and state.
"""

from __future__ import annotations

import asyncio
import json
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
from conformance.mock.store import Store, StoreFull
from conformance.mock.validation import validate

__all__ = ["fast_route", "public_routes"]

QUEUED_MESSAGE = "Call has been queued successfully."


def _org_with_scope(request: Request, scope: str) -> str:
    store = store_of(request)
    call_id = request.path_params.get("call_id")
    faulty = call_id is not None and bool(store.faults)  # what is checked before the key, only faults check
    if faulty and (org_id := _before_auth(store, request, str(call_id))) is not None:
        return org_id
    key = authenticate_key(store, request.headers)
    if faulty and store.fault("scope-after-existence") and call_id not in store.calls:
        raise ApiError(404, Code.NOT_FOUND, operations.NOT_FOUND_MESSAGE)
    require_scope(store, key, scope, request.headers)
    if store.faults and store.fault("query-org-id-honoured"):
        asked = request.query_params.get("org_id")
        if asked in store.orgs:  # support tooling acts "as" an organisation
            return asked
    return key.org_id


def _before_auth(store: Store, request: Request, call_id: str) -> str | None:
    """Faults that answer before the key is checked, or take the call's organisation without one."""
    if store.fault("auth-after-existence") and call_id not in store.calls:
        raise ApiError(404, Code.NOT_FOUND, operations.NOT_FOUND_MESSAGE)
    head_probe = request.method == "HEAD" and store.fault("head-before-auth")  # a cheap existence probe
    if head_probe and call_id not in store.calls:
        raise ApiError(404, Code.NOT_FOUND, operations.NOT_FOUND_MESSAGE)
    if store.fault("odd-id-500") and (len(call_id) > 64 or not call_id.isascii()):
        raise ApiError(500, Code.INTERNAL_ERROR, "Internal server error.")  # the column is 64 ASCII chars
    if request.scope.get("husky.legacy_route") and call_id in store.calls:
        return store.calls[call_id].org_id  # fault trailing-slash-skips-auth: the call's own organisation
    return None


async def create(request: Request) -> Response:
    org_id = _org_with_scope(request, "calls:create")
    store = store_of(request)
    if store.fault("create-org-race"):
        store.request_org = org_id  # the request context, one for the whole app instead of per request
        await asyncio.sleep(0.02)  # the quota service, awaited
        org_id = store.request_org
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None:
        validate(
            "openapi.yaml#/components/parameters/IdempotencyKey/schema",
            idempotency_key,
            what="Idempotency-Key header",
        )
    body = await read_json(request)
    validate("openapi.yaml#/components/schemas/CreateCallRequest", body)
    if idempotency_key and store.fault("idempotency-race"):  # in a thread, so that creates overlap in its window
        created = await run_in_threadpool(operations.create_call, store, org_id, body, idempotency_key)
    else:
        created = operations.create_call(store, org_id, body, idempotency_key)
    return json_response(created, 201)


async def get(request: Request) -> Response:
    org_id = _org_with_scope(request, "calls:read")
    store = store_of(request)
    any_org = request.method == "HEAD" and store.fault("head-cross-org")  # HEAD's own, laxer query
    call_id = request.path_params["call_id"]
    if store.faults and store.fault("get-writes-back"):  # in a thread, so that a delete can run in its window
        return json_response(await run_in_threadpool(operations.get_call, store, org_id, call_id, any_org=any_org))
    return json_response(operations.get_call(store, org_id, call_id, any_org=any_org))


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
    store, call_id = store_of(request), request.path_params["call_id"]
    if store.fault("cancel-resurrects"):  # in a thread, so that a delete can run in its window
        cancelled = await run_in_threadpool(operations.cancel_call, store, org_id, call_id)
    else:
        cancelled = operations.cancel_call(store, org_id, call_id)
    if store.fault("cancel-text-content-type"):
        return Response(json.dumps(cancelled), media_type="text/plain")  # the framework's default
    return json_response(cancelled)


async def hook(request: Request) -> Response:
    store = store_of(request)
    org = authenticate_token(store, request.path_params["token"])
    body = await read_json(request)
    if store.fault("webhook-unknown-action-deletes") and _unknown_action_with_id(body):
        body = {"action": "call.delete", "data": {"call_id": body["data"]["call_id"]}}
    if store.faults and isinstance(body, dict) and isinstance(body.get("action"), str):
        if store.fault("webhook-action-case-insensitive"):
            body["action"] = body["action"].lower()
        if store.fault("webhook-action-stripped"):
            body["action"] = body["action"].strip()
        if store.fault("webhook-invalid-create-persists") and body["action"] == "call.create":
            return _create_then_validate(store, org.org_id, body)
    validate("openapi.yaml#/components/schemas/WebhookRequest", body)
    action, data = body["action"], body["data"]
    org_id = _org_named_in(store, body, org.org_id) if store.fault("webhook-org-id-honoured") else org.org_id
    if action == "call.cancel":
        if store.fault("cancel-resurrects"):
            cancelled = await run_in_threadpool(
                operations.cancel_call, store, org_id, data["call_id"], via_webhook=True
            )
        else:
            cancelled = operations.cancel_call(store, org_id, data["call_id"], via_webhook=True)
        return json_response({"data": cancelled} if store.fault("webhook-cancel-wrapped") else cancelled)
    if action == "call.delete":
        if store.fault("mixed-transport-delete-race") or store.fault("delete-race"):  # its wait blocks a thread
            return json_response(
                await run_in_threadpool(operations.delete_call, store, org_id, data["call_id"], via_webhook=True)
            )
        return json_response(operations.delete_call(store, org_id, data["call_id"], via_webhook=True))
    created = operations.create_call(store, org_id, data)["data"]
    return json_response(_queued(created["call_id"]))


def _queued(call_id: str) -> dict[str, Any]:
    return {"success": True, "call_id": call_id, "status": "queued", "message": QUEUED_MESSAGE}


def _org_named_in(store: Store, body: dict[str, Any], org_id: str) -> str:
    """Fault "webhook-org-id-honoured": an organisation named in the body (a mass-assigned field) is taken."""
    data = body["data"]
    for named in (body.get("org_id"), body.get("organization_id"), data.get("org_id"), data.get("organization_id")):
        if isinstance(named, str) and named in store.orgs:
            return named
    return org_id


def _create_then_validate(store: Store, org_id: str, body: dict[str, Any]) -> Response:
    """Fault "webhook-invalid-create-persists": the row goes in before the body is validated, and stays."""
    data = body.get("data")
    fields = {name: data[name] for name in operations.CREATE_FIELDS if name in data} if isinstance(data, dict) else {}
    fields.setdefault("agent_id", "")
    fields.setdefault("contact_number", "")
    if not isinstance(fields.get("additional_info", {}), dict):
        del fields["additional_info"]  # the one column with a type of its own (JSON)
    try:
        call = store.add_call(org_id, "queued", **fields)
    except StoreFull:
        raise operations.store_full(store) from None
    store.schedule_completion(call)
    try:
        validate("openapi.yaml#/components/schemas/WebhookRequest", body)
    except ApiError as exc:
        raise ApiError(exc.status, exc.code, f"Call {call.call_id} was not queued: {exc.message}") from None
    return json_response(_queued(call.call_id))


def _unknown_action_with_id(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and body.get("action") not in ("call.create", "call.cancel", "call.delete")
        and isinstance(body.get("data"), dict)
        and isinstance(body["data"].get("call_id"), str)
    )


Handler = Callable[[Request], Awaitable[Response]]


class _Endpoint(HTTPEndpoint):
    async def method_not_allowed(self, request: Request) -> Response:
        store, call_id = store_of(request), request.path_params.get("call_id")
        if request.method == "OPTIONS" and call_id is not None and store.fault("options-before-auth"):
            # a CORS preflight, answered before any key is asked for, from the call's row
            if call_id not in store.calls:
                raise ApiError(404, Code.NOT_FOUND, operations.NOT_FOUND_MESSAGE)
            return Response(status_code=204, headers={"Allow": ", ".join(self._allowed_methods)})
        return await super().method_not_allowed(request)


def _endpoint(**methods: Handler) -> type[HTTPEndpoint]:
    """Starlette's form of a route's handlers, which also answers HEAD and wrong methods (405, Allow)."""
    return type("Endpoint", (_Endpoint,), {name: staticmethod(handler) for name, handler in methods.items()})


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
