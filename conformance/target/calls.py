"""The calls API as the suite speaks it: one function per operation, over REST or the webhook.

Ids are percent-encoded here (`quote(id, safe="")`) unless the caller passes a raw, already
encoded path segment: that is how adversarial ids reach the server byte for byte.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from conformance.contract.model import Op
from conformance.http.client import Client, Exchange
from conformance.target.safety import destructive_target

__all__ = [
    "answered_call",
    "call_op",
    "create",
    "created_id",
    "deleted_call",
    "destructive_id",
    "get",
    "hook",
    "may_create",
    "names_exactly",
    "path_for",
    "public_create",
    "rest",
    "snapshot",
]

_METHODS: dict[str, str] = {"get": "GET", "cancel": "POST", "delete": "DELETE"}
CREATE_BODY = {"agent_id": "agent_conformance", "contact_number": "+919800000000"}
# Numbers that only a loose reading of `^\+91[0-9]{10}$` takes (contract 5): the end not anchored, `$`
# before a final line break (Python, PHP), `^` and `$` at any line (Ruby, multiline), `\d` for any
# script's digits (Python, .NET). Each is an invalid create body.
LOOSE_NUMBERS = {
    "an eleventh digit": "+9198000000001",
    "a line break after it": "+919800000000\n",
    "a line before it": "x\n+919800000000",
    "Devanagari digits": "+91\u096f\u096e\u0966\u0966\u0966\u0966\u0966\u0966\u0966\u0966",
}


def path_for(op: Op, call_id: str, *, raw: bool = False) -> str:
    segment = call_id if raw else quote(call_id, safe="")
    return f"/v1/calls/{segment}/cancel" if op == "cancel" else f"/v1/calls/{segment}"


def rest(client: Client, op: Op, call_id: str, headers: dict[str, str], *, raw: bool = False) -> Exchange:
    return client.request(_METHODS[op], path_for(op, call_id, raw=raw), headers=headers)


def get(client: Client, call_id: str, headers: dict[str, str]) -> Exchange:
    return rest(client, "get", call_id, headers)


def hook(client: Client, token: str, action: str, data: Any) -> Exchange:
    body = {"action": f"call.{action}", "data": data}
    return client.request("POST", f"/v1/hooks/{quote(token, safe='')}", json_body=body)


def call_op(client: Client, transport: str, op: Op, call_id: str, *, headers: dict[str, str], token: str) -> Exchange:
    """`op` on `call_id` over `transport` ("rest" or "webhook"; the webhook has no get)."""
    if transport == "webhook" and op != "get":
        return hook(client, token, op, {"call_id": call_id})
    return rest(client, op, call_id, headers)


def create(client: Client, headers: dict[str, str], body: dict[str, Any] | None = None, **extra: str) -> Exchange:
    return client.request("POST", "/v1/calls", headers=headers | extra, json_body=body or CREATE_BODY)


def snapshot(client: Client, call_id: str, headers: dict[str, str]) -> Any:
    """The call as GET shows it now (its `data`), or None when GET does not answer 200."""
    exchange = get(client, call_id, headers)
    body = exchange.json()
    if exchange.status == 200 and isinstance(body, dict):
        return body.get("data")
    return None


def public_create(method: str, url: str) -> bool:
    """Whether `method url` may make a call through the public API: a REST create, or any webhook
    request (what its body asks for is the target's to read)."""
    path = url.split("?", 1)[0]
    return method.upper() == "POST" and (path.endswith("/v1/calls") or "/v1/hooks/" in path)


def may_create(method: str, path: str) -> bool:
    """Whether `method path` may make a call, or move one to a state its clean-up costs more in:
    a public create (`public_create`), a fixtures seed or a fixtures move."""
    return public_create(method, path) or (method.upper() == "POST" and path.startswith("/_fixtures/calls"))


def destructive_id(exchange: Exchange) -> str | None:
    """The call id a cancel or delete (REST or webhook) named, else None."""
    path = urlsplit(exchange.url).path
    return destructive_target(exchange.method, path[path.find("/v1/") :], exchange.body)


def deleted_call(exchange: Exchange) -> str | None:
    """The call id a successful delete (REST or webhook) removed, else None."""
    if exchange.status != 200:
        return None
    is_delete = exchange.method == "DELETE" or b'"call.delete"' in (exchange.body or b"")
    return destructive_id(exchange) if is_delete else None


def answered_call(exchange: Exchange) -> dict[str, Any] | None:
    """The call a 200 or 201 answer shows: its `data` object, or the body itself (the flat answers of
    cancel and the webhook); None for any other answer."""
    body = exchange.json() if exchange.status in (200, 201) else None
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    return data if isinstance(data, dict) else body


def names_exactly(exchange: Exchange, call_id: str) -> bool:
    """Whether a 200 or 201 answer is of the call whose id is exactly `call_id` (decoded): on a target
    that holds other calls (ids `call_1`, `call_2`, ...), a near miss of one id can be exactly another's."""
    shown = answered_call(exchange)
    return shown is not None and shown.get("call_id") == call_id


def created_id(exchange: Exchange) -> str | None:
    """The call id a successful create answered: `POST /v1/calls`, the webhook's `call.create`, or the
    fixtures API's `POST /_fixtures/calls`; else None."""
    path = urlsplit(exchange.url).path
    if public_create(exchange.method, path):
        creates = "/v1/hooks/" not in path or _hook_creates(exchange)
    else:
        creates = exchange.method == "POST" and path.endswith("/_fixtures/calls")
    found = answered_call(exchange) if creates else None
    call_id = found.get("call_id") if found else None
    return call_id if isinstance(call_id, str) else None


def _hook_creates(exchange: Exchange) -> bool:
    sent = exchange.sent_json()
    return isinstance(sent, dict) and sent.get("action") == "call.create"
